#include "tests/support/dockerd.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace cachewarden::testing {
namespace {

constexpr const char* kDockerd = "/usr/sbin/dockerd";
constexpr const char* kDocker = "/usr/bin/docker";  // Debian's, not another client on PATH
// busybox-static: static, so it runs in an image that holds nothing else.
constexpr const char* kBusybox = "/bin/busybox";
// tini, which docker.io depends on (its docker-init): a pid 1 that reaps what is killed under it.
constexpr const char* kTini = "/usr/bin/tini";

bool Connectable(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof(addr.sun_path) - 1));
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// The first child of `pid` (unshare -f's child: after `exec`, dockerd itself).
pid_t FirstChild(pid_t pid) {
  std::istringstream in(
      ReadFile("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
  pid_t child = -1;
  in >> child;
  return child;
}

// The descendants of `pid` (children first), from /proc/<pid>/task/*/children.
std::vector<pid_t> Descendants(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::istringstream in(ReadFile(t.path().string() + "/children"));
    for (pid_t c; in >> c;) {
      out.push_back(c);
      for (pid_t d : Descendants(c)) out.push_back(d);
    }
  }
  return out;
}

std::string Comm(pid_t pid) {
  std::string c = ReadFile("/proc/" + std::to_string(pid) + "/comm");
  if (!c.empty() && c.back() == '\n') c.pop_back();
  return c;
}

// A process that has gone, or is a zombie (killed, not yet reaped by its parent).
bool Gone(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  return close == std::string::npos || stat.compare(close, 4, ") Z ") == 0;
}

std::string Tail(const std::string& text, std::size_t n = 3000) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

}  // namespace

std::string TestDockerd::Unavailable() {
  if (geteuid() != 0) return "dockerd needs root";
  for (const char* p : {kDockerd, kDocker, kBusybox, kTini, "/usr/bin/unshare", "/usr/bin/nsenter",
                        "/usr/bin/curl", "/usr/sbin/ip"}) {
    if (access(p, X_OK) != 0) return std::string(p) + " is not installed (scripts/dev bootstrap)";
  }
  return "";
}

TestDockerd::TestDockerd(std::string daemon_json)
    : TestDockerd(Options{std::move(daemon_json), "", false}) {}

TestDockerd::TestDockerd(Options options)
    : socket_(dir_ / "docker.sock"), options_(std::move(options)) {}

TestDockerd::~TestDockerd() { Stop(); }

bool TestDockerd::Start(std::string* error, std::chrono::milliseconds timeout) {
  namespace fs = std::filesystem;
  const std::string data_root = options_.data_root.empty() ? dir_ / "data" : options_.data_root;
  fs::create_directories(data_root);
  fs::create_directories(dir_ / "exec");
  fs::create_directories(dir_ / "client");
  WriteFile(dir_ / "daemon.json", options_.daemon_json);
  // lo up first: BuildKit's RUN steps get a bridge in this network namespace, and nothing else.
  const std::string dockerd =
      std::string(kDockerd) + " --data-root " + data_root + " --exec-root " + (dir_ / "exec") +
      " --pidfile " + (dir_ / "docker.pid") + " --host unix://" + socket_ + " --config-file " +
      (dir_ / "daemon.json") + " --iptables=false --ip-masq=false";
  std::vector<std::string> argv = {"/usr/bin/unshare", "--kill-child", "-m", "-n", "-p", "-f",
                                   "--mount-proc"};
  if (options_.hold_namespaces) {
    // pid 1 tini; its child the shell, which runs dockerd and then becomes the namespaces' holder.
    argv.insert(argv.end(), {kTini, "--", "/bin/sh", "-c",
                             "ip link set lo up && " + dockerd + "; exec sleep infinity"});
  } else {
    argv.insert(argv.end(), {"/bin/sh", "-c", "ip link set lo up && exec " + dockerd});
  }
  fs::create_directories(dir_ / "log");
  // --kill-child: should the test die, unshare's death takes dockerd (and its namespace) along.
  unshare_ = std::make_unique<ChildProcess>(argv, dir_ / "log");
  const bool up = WaitUntil([&] { return Connectable(socket_) || !unshare_->Running(); }, timeout);
  if (!up || !unshare_->Running()) {
    *error = std::string(up ? "dockerd exited" : "dockerd's socket did not open in time") +
             "; its log ends:\n" + Tail(Log());
    Stop();
    return false;
  }
  namespace_pid_ = FirstChild(unshare_->pid());
  dockerd_pid_ = namespace_pid_;
  if (options_.hold_namespaces) {
    dockerd_pid_ = -1;
    for (pid_t p : Descendants(namespace_pid_)) {
      if (Comm(p) == "dockerd") dockerd_pid_ = p;
    }
  }
  if (dockerd_pid_ <= 0) {
    *error = "no dockerd process under unshare";
    Stop();
    return false;
  }
  return true;
}

void TestDockerd::Stop(std::chrono::milliseconds timeout) {
  if (!unshare_) return;
  if (dockerd_pid_ > 0 && unshare_->Running()) kill(dockerd_pid_, SIGTERM);
  if (options_.hold_namespaces && namespace_pid_ > 0) {
    // dockerd gone, its pid 1 (tini) goes, and the kernel ends the rest of the namespace with it.
    if (dockerd_pid_ > 0) WaitUntil([&] { return Gone(dockerd_pid_); }, timeout);
    kill(namespace_pid_, SIGKILL);
  }
  int code = 0;
  if (!unshare_->WaitExit(timeout, &code)) {
    if (dockerd_pid_ > 0) kill(dockerd_pid_, SIGKILL);
    unshare_->Signal(SIGKILL);
    unshare_->WaitExit(std::chrono::seconds(10), &code);
  }
  dockerd_pid_ = -1;
  namespace_pid_ = -1;
  unshare_.reset();
}

bool TestDockerd::KillDockerd(std::string* error) {
  if (!options_.hold_namespaces || dockerd_pid_ <= 0) {
    *error = "KillDockerd needs a running dockerd started with hold_namespaces";
    return false;
  }
  kill(dockerd_pid_, SIGKILL);
  if (!WaitUntil([&] { return Gone(dockerd_pid_); })) {
    *error = "dockerd did not die on SIGKILL";
    return false;
  }
  dockerd_pid_ = -1;
  // What is left under pid 1: the holder (its first child) and the orphans dockerd left, which
  // tini reaps once killed.
  const std::vector<pid_t> all = Descendants(namespace_pid_);
  const pid_t holder = FirstChild(namespace_pid_);
  std::vector<pid_t> killed;
  for (pid_t p : all) {
    if (p != holder && kill(p, SIGKILL) == 0) killed.push_back(p);
  }
  if (!WaitUntil([&] {
        return std::all_of(killed.begin(), killed.end(), [](pid_t p) { return Gone(p); });
      })) {
    *error = "processes under dockerd's pid 1 did not die on SIGKILL";
    return false;
  }
  return true;
}

ProcessResult TestDockerd::RunInside(const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout) const {
  std::vector<std::string> a = {
      "/usr/bin/nsenter", "-t", std::to_string(namespace_pid_), "-m", "-p", "--"};
  a.insert(a.end(), argv.begin(), argv.end());
  return RunProcess(a, {}, timeout);
}

std::string TestDockerd::Log() const { return ReadFile(dir_ / "log/child.err"); }

ProcessResult TestDockerd::Docker(const std::vector<std::string>& args,
                                  std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv = {kDocker};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(
      argv,
      {"DOCKER_HOST=unix://" + socket_, "DOCKER_BUILDKIT=1", "DOCKER_CONFIG=" + (dir_ / "client")},
      timeout);
}

bool TestDockerd::ImportBusybox(const std::string& tag, std::string* error) const {
  namespace fs = std::filesystem;
  const std::string rootfs = dir_ / "busybox-rootfs";
  fs::create_directories(rootfs + "/bin");
  fs::create_directories(rootfs + "/tmp");
  fs::copy_file(kBusybox, rootfs + "/bin/busybox", fs::copy_options::overwrite_existing);
  for (const char* applet : {"sh", "dd", "cat", "ls", "mkdir", "rm", "echo", "true"}) {
    std::error_code ec;
    fs::create_symlink("busybox", rootfs + "/bin/" + applet, ec);
  }
  const std::string tar = dir_ / "busybox.tar";
  ProcessResult t = RunProcess({"tar", "-C", rootfs, "-cf", tar, "."});
  if (t.exit_code != 0) {
    *error = "tar: " + t.err;
    return false;
  }
  ProcessResult r = Docker({"import", tar, tag});
  if (r.exit_code != 0) {
    *error = "docker import: " + r.err;
    return false;
  }
  return true;
}

std::string TestDockerd::Get(const std::string& path, std::string* error) const {
  ProcessResult r = RunProcess({"/usr/bin/curl", "-sS", "--fail", "--max-time", "20",
                                "--unix-socket", socket_, "http://docker" + path});
  if (r.exit_code != 0) {
    *error = "GET " + path + ": " + r.err;
    return "";
  }
  return r.out;
}

}  // namespace cachewarden::testing
