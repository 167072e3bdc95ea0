#include "tests/support/peers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <vector>

#include "tests/support/http.h"

namespace cachewarden::testing {

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

RefusingLoopbackPort::RefusingLoopbackPort() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd_ >= 0) close(fd_);
    throw std::runtime_error("RefusingLoopbackPort: cannot bind 127.0.0.1:0");
  }
  port_ = ntohs(addr.sin_port);
}

RefusingLoopbackPort::~RefusingLoopbackPort() {
  if (fd_ >= 0) close(fd_);
}

bool AllocateFile(const std::string& path, long long bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  bool ok = posix_fallocate(fd, 0, bytes) == 0;
  close(fd);
  return ok;
}

RunningPrometheus::RunningPrometheus(const std::string& dir) : port_(FreeLoopbackPort()) {
  std::filesystem::create_directories(dir + "/prom/data");
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
                               "--storage.tsdb.path=" + dir + "/prom/data",
                               fmt::format("--web.listen-address=127.0.0.1:{}", port_)},
      dir + "/prom");
  ready_ = WaitUntil(
      [&] { return HttpGet(fmt::format("http://127.0.0.1:{}/-/ready", port_)).code == 200; });
}

}  // namespace cachewarden::testing
