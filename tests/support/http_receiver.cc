#include "tests/support/http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace cachewarden::testing {

HttpReceiver::HttpReceiver(int status) : status_(status) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
          0 ||
      ::listen(listen_fd_, 8) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
          0) {
    throw std::runtime_error("HttpReceiver: cannot listen on 127.0.0.1:0");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

HttpReceiver::~HttpReceiver() {
  // shutdown() wakes the accept() the serving thread blocks in.
  ::shutdown(listen_fd_, SHUT_RDWR);
  thread_.join();
  ::close(listen_fd_);
}

std::string HttpReceiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpReceiver::Serve() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;  // shut down
    std::string data;
    char buf[4096];
    Request r;
    std::size_t want = std::string::npos;
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
      std::size_t end = data.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      if (want == std::string::npos) {
        r.head = data.substr(0, end);
        std::size_t length = 0;
        for (const char* key : {"Content-Length: ", "content-length: "}) {
          std::size_t at = r.head.find(key);
          if (at != std::string::npos)
            length = std::strtoul(r.head.c_str() + at + 16, nullptr, 10);
        }
        want = end + 4 + length;
      }
      if (data.size() >= want) break;
    }
    if (want != std::string::npos && data.size() >= want) {
      r.body = data.substr(r.head.size() + 4, want - r.head.size() - 4);
      std::string reply =
          "HTTP/1.1 " + std::to_string(status_) +
          " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::write(fd, reply.data(), reply.size());
      std::lock_guard lock(mu_);
      requests_.push_back(std::move(r));
      cv_.notify_all();
    }
    ::close(fd);
  }
}

bool HttpReceiver::WaitFor(std::size_t n, int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return requests_.size() >= n; });
}

std::vector<HttpReceiver::Request> HttpReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

}  // namespace cachewarden::testing
