#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace cachewarden::testing {

struct ProcessResult {
  int exit_code = -1;  // 128+signal if killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) to completion with stdin from /dev/null. `env` entries ("K=V")
// are added to the environment. Kills it after `timeout` (exit_code then -2).
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::minutes(5));

// A long-running child (the agent under test): stdout/stderr go to files under `log_dir` so they
// can be read while it runs. Killed (SIGKILL) on destruction if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_dir,
               const std::vector<std::string>& env = {});
  ~ChildProcess();
  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // Waits up to `timeout` for it to exit; true and *exit_code if it did.
  bool WaitExit(std::chrono::milliseconds timeout, int* exit_code);
  bool Running();
  std::string Stderr() const;
  std::string Stdout() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string out_path_, err_path_;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes. This waits on a
// condition, not for a fixed time.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(20));

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// A fresh directory under /tmp, removed (after detaching mounts under it) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// The cachewarden binary under test, and the source tree.
std::string BinaryPath();
std::string SourceDir();

}  // namespace cachewarden::testing
