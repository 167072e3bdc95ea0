#include "actions/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

#include "base/unique_fd.h"

namespace cachewarden {
namespace {

using Steady = std::chrono::steady_clock;

constexpr std::size_t kMaxOutput = 8192;
constexpr std::chrono::seconds kKillGrace{5};

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

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

// posix_spawn's attributes and file actions, destroyed on every path out.
struct SpawnSetup {
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // What the header promises of the child; 0, or the first error.
  int Prepare(int output_fd) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int steps[] = {
        posix_spawnattr_setflags(
            &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
        posix_spawnattr_setpgroup(&attr, 0),  // a new group, led by the command
        posix_spawnattr_setsigmask(&attr, &none),
        posix_spawnattr_setsigdefault(&attr, &all),
        // The pipe first: should it have got fd 0 (our stdin closed), /dev/null replaces it only
        // after it has been copied to 1 and 2.
        posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO),
        posix_spawn_file_actions_adddup2(&actions, output_fd, STDERR_FILENO),
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0),
        posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1),
    };
    for (int e : steps) {
      if (e != 0) return e;
    }
    return 0;
  }

  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
};

// Appends what the pipe holds now to `out`, up to kMaxOutput; beyond that it is read and dropped,
// so the command never blocks on a full pipe. False once the pipe is at its end (or broken).
bool ReadAvailable(int fd, std::string* out) {
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      std::size_t room = kMaxOutput - std::min(kMaxOutput, out->size());
      out->append(buf, std::min(room, static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

// glibc 2.36's <sys/pidfd.h> declares pidfd_open without extern "C" (fixed in 2.37), so C++ cannot
// link against it: the system call itself, which is all the wrapper is. O_CLOEXEC is implied.
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Milliseconds from `now` until `t`, rounded up, as poll(2) takes them.
int MsUntil(Steady::time_point t, Steady::time_point now) {
  if (t <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
  return static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
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
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  // Only our end: the command's writes block as usual.
  if (::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) {
    out.error = std::string("fcntl: ") + std::strerror(errno);
    return out;
  }
  pid_t pid = -1;
  {
    SpawnSetup spawn;
    int e = spawn.Prepare(write_end.get());
    if (e == 0)
      e = ::posix_spawn(&pid, exe.c_str(), &spawn.actions, &spawn.attr, args.data(), envp);
    if (e != 0) {
      out.error = "cannot run " + exe + ": " + std::strerror(e);
      return out;
    }
  }
  write_end.Reset();  // the command holds the only write end now: its exit ends the pipe
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd.valid()) {
    out.error = std::string("pidfd_open: ") + std::strerror(errno);
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return out;
  }
  out.started = true;

  const Steady::time_point deadline = Steady::now() + timeout;
  std::optional<Steady::time_point> kill_at;  // set once the group got SIGTERM
  bool killed = false;                        // the group got SIGKILL
  bool pipe_open = true;
  while (true) {
    auto now = Steady::now();
    if (!kill_at && (now >= deadline || Cancelled(cancel))) {
      out.timed_out = now >= deadline;
      out.cancelled = !out.timed_out;
      ::kill(-pid, SIGTERM);
      kill_at = now + kKillGrace;
    }
    if (kill_at && !killed && now >= *kill_at) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    int wait_ms = -1;  // once killed, only the exit is left to wait for
    if (!kill_at) {
      wait_ms = MsUntil(deadline, now);
      if (cancel != nullptr) wait_ms = std::min(wait_ms, static_cast<int>(kCancelCheck.count()));
    } else if (!killed) {
      wait_ms = MsUntil(*kill_at, now);
    }
    struct pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {pipe_open ? read_end.get() : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) {
      out.error = std::string("poll: ") + std::strerror(errno);
      ::kill(-pid, SIGKILL);
      break;
    }
    if (n <= 0) continue;
    if (fds[1].revents != 0) pipe_open = ReadAvailable(read_end.get(), &out.output);
    if (fds[0].revents != 0) break;  // the command has exited
  }
  // The command is a zombie until reaped below, so its pid, the group's id, cannot have been
  // reused: what is left of a stopped command's group is killed here, and what the command wrote
  // before exiting is in the pipe already. Later output of processes it left behind is not waited
  // for.
  if (kill_at) ::kill(-pid, SIGKILL);
  if (pipe_open) ReadAvailable(read_end.get(), &out.output);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out.exit_code = Decode(status);
  return out;
}

}  // namespace cachewarden
