#include "actions/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace cachewarden {
namespace {

constexpr std::size_t kMaxOutput = 8192;

std::string Resolve(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = kCommandPath;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string candidate = path.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

int Decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

CommandOutcome RunCommandAction(const std::vector<std::string>& argv, Duration timeout,
                                const std::atomic<bool>* cancel) {
  CommandOutcome out;
  if (argv.empty()) {
    out.error = "empty command";
    return out;
  }
  std::string exe = Resolve(argv[0]);
  if (exe.empty()) {
    out.error = "\"" + argv[0] + "\" not found in " + kCommandPath;
    return out;
  }
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::string path_env = std::string("PATH=") + kCommandPath;
  char lang[] = "LANG=C.UTF-8";
  char home[] = "HOME=/";
  char* envp[] = {path_env.data(), lang, home, nullptr};

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    out.error = std::string("pipe: ") + std::strerror(errno);
    return out;
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid < 0) {
    out.error = std::string("fork: ") + std::strerror(errno);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    if (devnull >= 0) ::close(devnull);
    return out;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::syscall(SYS_close_range, 3, ~0U, 0);
    ::execve(exe.c_str(), args.data(), envp);
    _exit(127);
  }
  ::setpgid(pid, pid);  // also from here: no race with the first kill
  ::close(pipe_fds[1]);
  if (devnull >= 0) ::close(devnull);
  out.started = true;

  using Steady = std::chrono::steady_clock;
  auto deadline = Steady::now() + timeout;
  Steady::time_point kill_at{};
  bool eof = false;
  int status = 0;
  char buf[4096];
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    auto now = Steady::now();
    bool stop = now >= deadline || (cancel != nullptr && cancel->load());
    if (stop && kill_at == Steady::time_point{}) {
      out.timed_out = now >= deadline;
      out.cancelled = !out.timed_out;
      ::kill(-pid, SIGTERM);
      kill_at = now + std::chrono::seconds(5);
    }
    if (kill_at != Steady::time_point{} && now >= kill_at) ::kill(-pid, SIGKILL);
    if (!eof) {
      struct pollfd p = {pipe_fds[0], POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
        if (n <= 0) {
          eof = true;
        } else if (out.output.size() < kMaxOutput) {
          out.output.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n),
                                                       kMaxOutput - out.output.size()));
        }
      }
    } else {
      ::poll(nullptr, 0, 20);
    }
  }
  // What the child wrote just before exiting is still in the pipe. Drain it, but not for ever: a
  // grandchild may hold the pipe open.
  for (int i = 0; i < 20 && !eof; ++i) {
    struct pollfd p = {pipe_fds[0], POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) break;
    ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    if (out.output.size() < kMaxOutput) {
      out.output.append(
          buf, std::min<std::size_t>(static_cast<std::size_t>(n), kMaxOutput - out.output.size()));
    }
  }
  ::close(pipe_fds[0]);
  out.exit_code = Decode(status);
  if (out.exit_code == 127 && out.output.empty()) out.error = "exec failed";
  return out;
}

}  // namespace cachewarden
