#include "tests/support/dockerd.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <sstream>

namespace cachewarden::testing {
namespace {

constexpr const char* kDockerd = "/usr/sbin/dockerd";
constexpr const char* kDocker = "/usr/bin/docker";  // Debian's, not another client on PATH
// busybox-static: static, so it runs in an image that holds nothing else.
constexpr const char* kBusybox = "/bin/busybox";

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

std::string Tail(const std::string& text, std::size_t n = 3000) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

}  // namespace

std::string TestDockerd::Unavailable() {
  if (geteuid() != 0) return "dockerd needs root";
  for (const char* p :
       {kDockerd, kDocker, kBusybox, "/usr/bin/unshare", "/usr/bin/curl", "/usr/sbin/ip"}) {
    if (access(p, X_OK) != 0) return std::string(p) + " is not installed (scripts/dev bootstrap)";
  }
  return "";
}

TestDockerd::TestDockerd(std::string daemon_json)
    : socket_(dir_ / "docker.sock"), daemon_json_(std::move(daemon_json)) {}

TestDockerd::~TestDockerd() { Stop(); }

bool TestDockerd::Start(std::string* error, std::chrono::milliseconds timeout) {
  namespace fs = std::filesystem;
  fs::create_directories(dir_ / "data");
  fs::create_directories(dir_ / "exec");
  fs::create_directories(dir_ / "client");
  WriteFile(dir_ / "daemon.json", daemon_json_);
  // lo up first: BuildKit's RUN steps get a bridge in this network namespace, and nothing else.
  const std::string script = "ip link set lo up && exec " + std::string(kDockerd) +
                             " --data-root " + (dir_ / "data") + " --exec-root " + (dir_ / "exec") +
                             " --pidfile " + (dir_ / "docker.pid") + " --host unix://" + socket_ +
                             " --config-file " + (dir_ / "daemon.json") +
                             " --iptables=false --ip-masq=false";
  fs::create_directories(dir_ / "log");
  // --kill-child: should the test die, unshare's death takes dockerd (and its namespace) along.
  unshare_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/unshare", "--kill-child", "-m", "-n", "-p", "-f",
                               "--mount-proc", "/bin/sh", "-c", script},
      dir_ / "log");
  const bool up = WaitUntil([&] { return Connectable(socket_) || !unshare_->Running(); }, timeout);
  if (!up || !unshare_->Running()) {
    *error = std::string(up ? "dockerd exited" : "dockerd's socket did not open in time") +
             "; its log ends:\n" + Tail(Log());
    Stop();
    return false;
  }
  dockerd_pid_ = FirstChild(unshare_->pid());
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
  int code = 0;
  if (!unshare_->WaitExit(timeout, &code)) {
    if (dockerd_pid_ > 0) kill(dockerd_pid_, SIGKILL);
    unshare_->Signal(SIGKILL);
    unshare_->WaitExit(std::chrono::seconds(10), &code);
  }
  dockerd_pid_ = -1;
  unshare_.reset();
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
