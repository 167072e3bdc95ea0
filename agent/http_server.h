#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cachewarden {

// The agent's one HTTP listener, on civetweb's C++ API (CivetServer with a CivetHandler per path):
//   /metrics  GET: ExpositionText of `metrics()`, gzip-compressed when the client accepts gzip
//             (/metrics/anything too, as civetweb matches a handler's sub-paths);
//   /healthz  200 "ok" while `healthy()`, else 503;
//   /readyz   200 "ready" once `ready()`, else 503;
//   /status   200, `status_json()` as application/json;
//   /         200, a page linking the others.
// The four plain paths answer any method and match exactly (a query string aside); anything else
// gets civetweb's own 404 or 405.
//
// Each server owns its handlers and its providers: several may exist at once (there is no
// process-wide state). The providers are called on civetweb's worker threads, several at a time,
// and must be thread-safe; they are never called once the destructor has returned (it joins the
// workers).
class HttpServer {
 public:
  struct Handlers {
    std::function<std::vector<prometheus::MetricFamily>()> metrics;
    std::function<bool()> healthy;
    std::function<bool()> ready;
    std::function<std::string()> status_json;
  };

  // Binds `listen` (":9479", "127.0.0.1:0", "[::1]:9479") and starts serving; throws
  // std::runtime_error naming the address when it cannot. civetweb starts listening before the
  // handlers are added, so a request that arrives while this runs may get a 404.
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
