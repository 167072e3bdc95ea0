#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cachewarden {

// The agent's one HTTP listener: /metrics (Prometheus text), /healthz, /readyz and /status (JSON).
// Built on prometheus-cpp's Exposer; the non-metrics paths are served from civetweb's begin_request
// hook, since prometheus-cpp 1.0.1 has no API for other handlers.
//
// The providers are called on civetweb's worker threads and must be thread-safe. Only one
// HttpServer may exist at a time (the hook has no user pointer).
class HttpServer {
 public:
  struct Handlers {
    std::function<std::vector<prometheus::MetricFamily>()> metrics;
    std::function<bool()> healthy;
    std::function<bool()> ready;
    std::function<std::string()> status_json;
  };

  // Binds `listen` (":9479", "127.0.0.1:0", "[::1]:9479"); throws std::runtime_error naming the
  // address when it cannot.
  HttpServer(const std::string& listen, Handlers handlers);
  ~HttpServer();

  // The bound port (the real one when 0 was asked for).
  int port() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// civetweb wants "9479" for all interfaces; we accept ":9479" too.
std::string CivetListenAddress(const std::string& listen);

}  // namespace cachewarden
