#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/mounts.h"

namespace cachewarden::testing {
namespace {

pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, int out_fd,
            int err_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         std::chrono::milliseconds timeout) {
  TempDir dir;
  int out_fd = open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err_fd = open((dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = Spawn(argv, env, out_fd, err_fd);
  close(out_fd);
  close(err_fd);
  ProcessResult r;
  if (pid <= 0) {  // fork failed: never kill(-1) or wait for any child
    r.exit_code = -1;
    r.err = "cannot start process";
    return r;
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool done = false;
  while (!done) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      done = true;
      r.exit_code = DecodeStatus(status);
    } else if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.exit_code = -2;
      done = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  r.out = ReadFile(dir / "out");
  r.err = ReadFile(dir / "err");
  return r;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_dir,
                           const std::vector<std::string>& env)
    : out_path_(log_dir + "/child.out"), err_path_(log_dir + "/child.err") {
  int out_fd = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err_fd = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_ = Spawn(argv, env, out_fd, err_fd);
  close(out_fd);
  close(err_fd);
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::Signal(int sig) const {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

bool ChildProcess::WaitExit(std::chrono::milliseconds timeout, int* exit_code) {
  if (reaped_) return true;
  if (pid_ <= 0) return false;  // never started: waitpid(-1) would reap another child
  int status = 0;
  bool ok = WaitUntil([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (ok) {
    reaped_ = true;
    if (exit_code) *exit_code = DecodeStatus(status);
  }
  return ok;
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

std::string ChildProcess::Stderr() const { return ReadFile(err_path_); }
std::string ChildProcess::Stdout() const { return ReadFile(out_path_); }

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/cachewarden-test.XXXXXX";
  char* p = mkdtemp(tmpl.data());
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  UnmountUnder(path_);
  std::error_code ec;
  // Tests may leave immutable files or odd permissions; best effort.
  std::filesystem::remove_all(path_, ec);
}

std::string BinaryPath() { return CACHEWARDEN_BINARY; }
std::string SourceDir() { return CACHEWARDEN_SOURCE_DIR; }

}  // namespace cachewarden::testing
