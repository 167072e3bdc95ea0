#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cachewarden::testing {

// A minimal HTTP/1.1 server on 127.0.0.1:0 for notifier tests: answers every
// request with `status` and an empty body, and keeps each request's head and
// body. One connection at a time; Connection: close.
class HttpReceiver {
 public:
  explicit HttpReceiver(int status = 200);
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

 private:
  void Serve();
  int listen_fd_ = -1;
  int port_ = 0;
  int status_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace cachewarden::testing
