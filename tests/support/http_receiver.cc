#include "tests/support/http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "tests/support/process.h"

namespace cachewarden::testing {

std::string MakeSelfSignedCert(const std::string& dir, TlsFiles* out) {
  out->cert = dir + "/cert.pem";
  out->key = dir + "/key.pem";
  auto r = RunProcess({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                       "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                       "/CN=cachewarden-test", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                       out->key, "-out", out->cert});
  return r.exit_code == 0 ? "" : "openssl req failed: " + r.err;
}

HttpReceiver::HttpReceiver(int status, const TlsFiles& tls) : status_(status) {
  if (!tls.cert.empty()) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr || SSL_CTX_use_certificate_chain_file(ctx, tls.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_free(ctx);
      throw std::runtime_error("HttpReceiver: cannot load " + tls.cert + " and " + tls.key);
    }
    tls_ctx_ = ctx;
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 8) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    SSL_CTX_free(tls_ctx_);
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
  SSL_CTX_free(tls_ctx_);
}

std::string HttpReceiver::Url(const std::string& path) const {
  return std::string(tls_ctx_ != nullptr ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(port_) + path;
}

bool HttpReceiver::Exchange(int fd, SSL* ssl, Request* r) {
  std::string data;
  char buf[4096];
  std::size_t want = std::string::npos;
  for (;;) {
    const ssize_t n = ssl != nullptr ? SSL_read(ssl, buf, sizeof buf) : ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    const std::size_t end = data.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    if (want == std::string::npos) {
      r->head = data.substr(0, end);
      std::size_t length = 0;
      for (const char* key : {"Content-Length: ", "content-length: "}) {
        const std::size_t at = r->head.find(key);
        if (at != std::string::npos) {
          length = std::strtoul(r->head.c_str() + at + std::strlen(key), nullptr, 10);
        }
      }
      want = end + 4 + length;
    }
    if (data.size() >= want) break;
  }
  if (want == std::string::npos || data.size() < want) return false;
  r->body = data.substr(r->head.size() + 4, want - r->head.size() - 4);
  const std::string reply = "HTTP/1.1 " + std::to_string(status_) +
                            " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  if (ssl != nullptr) {
    SSL_write(ssl, reply.data(), static_cast<int>(reply.size()));
  } else {
    (void)!::write(fd, reply.data(), reply.size());
  }
  return true;
}

void HttpReceiver::Serve() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;  // shut down
    SSL* ssl = nullptr;
    bool ok = true;
    if (tls_ctx_ != nullptr) {
      ssl = SSL_new(tls_ctx_);
      ok = ssl != nullptr && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1;
      if (!ok) {
        std::lock_guard lock(mu_);
        ++failed_handshakes_;
        cv_.notify_all();
      }
    }
    Request r;
    if (ok && Exchange(fd, ssl, &r)) {
      std::lock_guard lock(mu_);
      requests_.push_back(std::move(r));
      cv_.notify_all();
    }
    if (ssl != nullptr) {
      if (ok) SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    ::close(fd);
  }
}

bool HttpReceiver::WaitFor(std::size_t n, int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return requests_.size() >= n; });
}

bool HttpReceiver::WaitForFailedHandshakes(std::size_t n, int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return failed_handshakes_ >= n; });
}

std::vector<HttpReceiver::Request> HttpReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

}  // namespace cachewarden::testing
