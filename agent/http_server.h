#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/web_config.h"

namespace cachewarden {

// The agent's one HTTP(S) listener: an event-driven server on a libuv loop of its own thread.
//   /metrics  GET: ExpositionText of `metrics()`, gzip-compressed when the client accepts gzip
//             (/metrics/anything too); other methods 404 (POST, ...) or 405 (PUT, DELETE, PATCH);
//   /healthz  200 "ok" while `healthy()`, else 503;
//   /readyz   200 "ready" once `ready()`, else 503;
//   /status   200, `status_json()` as application/json (StatusCounts of it under "counts");
//   /         200, a page linking the others.
// The four plain paths answer any method and match exactly (a query string aside); anything else
// is 404, or 405 for PUT, DELETE and PATCH. Every response closes its connection.
//
// Why not a thread per connection (civetweb): a slow or idle client must never hold what /healthz
// needs. Here no client holds anything but its connection: the request head has a size limit
// (8 KiB, 64 header lines; 431 past them), a deadline from accept to its end (the WebConfig's
// request_timeout, TLS handshake included; the connection is closed at it), the response a 30 s
// deadline, and at max_connections the oldest connection still sending its head is dropped for
// the new one (else the oldest already answered, else the oldest not reading its answer), so a new
// client always gets in. bcrypt checks run on libuv's thread pool, two at a time at most (more:
// 429), and a verified user/password pair is cached (see web_config.h).
//
// Each server owns its handlers and its providers: several may exist at once (there is no
// process-wide state besides libuv's thread pool). The providers are called on the server's
// thread, one at a time, and must be thread-safe against the rest of the program; they are never
// called once the destructor has returned (it joins the thread).
class HttpServer {
 public:
  struct Handlers {
    std::function<std::vector<prometheus::MetricFamily>()> metrics;
    std::function<bool()> healthy;
    std::function<bool()> ready;
    std::function<std::string()> status_json;
  };

  // Binds `listen` (":9479" is every IPv4 interface, "127.0.0.1:0", "[::1]:9479") and starts
  // serving as `web` says; throws std::runtime_error naming the address when it cannot bind, or
  // ConfigError when web's certificates do not load.
  HttpServer(const std::string& listen, Handlers handlers, const WebConfig& web = {});
  ~HttpServer();

  // From now on, new connections and requests use `web` (TLS context, users, status detail,
  // limits), its certificate files read afresh: this is how a reload rotates certificates.
  // Throws ConfigError (and changes nothing) when they do not load. Thread-safe.
  void Configure(const WebConfig& web);

  // The bound port (the real one when 0 was asked for).
  int port() const;

  // Connections open now (for tests that check nothing is held after clients leave).
  int connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cachewarden
