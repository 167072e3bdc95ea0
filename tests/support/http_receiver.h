#pragma once

#include <openssl/types.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cachewarden::testing {

// A certificate and its key (PEM files) for an HTTPS receiver.
struct TlsFiles {
  std::string cert;
  std::string key;
};

// Makes a self-signed certificate for 127.0.0.1 in `dir` with the openssl command; "" on success,
// else why not.
std::string MakeSelfSignedCert(const std::string& dir, TlsFiles* out);

// A minimal HTTP/1.1 server on 127.0.0.1:0 for notifier tests: answers every request with `status`
// and an empty body, and keeps each request's head and body. One connection at a time; Connection:
// close. With `tls`, it speaks HTTPS (OpenSSL) and counts the handshakes that failed.
class HttpReceiver {
 public:
  explicit HttpReceiver(int status = 200, const TlsFiles& tls = {});
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path) const;

  struct Request {
    std::string head;  // request line and headers
    std::string body;
  };
  // Waits until at least `n` requests came (false after `timeout_ms`).
  bool WaitFor(std::size_t n, int timeout_ms = 10000);
  std::vector<Request> requests() const;
  // Waits until at least `n` TLS handshakes failed (false after `timeout_ms`).
  bool WaitForFailedHandshakes(std::size_t n, int timeout_ms = 10000);

 private:
  void Serve();
  // Reads one request from the connection and answers it; false if none came.
  bool Exchange(int fd, SSL* ssl, Request* r);
  int listen_fd_ = -1;
  int port_ = 0;
  int status_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;
  std::size_t failed_handshakes_ = 0;
  SSL_CTX* tls_ctx_ = nullptr;  // when serving HTTPS
  std::thread thread_;
};

}  // namespace cachewarden::testing
