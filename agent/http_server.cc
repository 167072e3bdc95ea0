#include "agent/http_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <fmt/format.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace cachewarden {
namespace {

class ProviderCollectable : public prometheus::Collectable {
 public:
  explicit ProviderCollectable(std::function<std::vector<prometheus::MetricFamily>()> f)
      : f_(std::move(f)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return f_(); }

 private:
  std::function<std::vector<prometheus::MetricFamily>()> f_;
};

// Set before the server starts and cleared only after its threads have been joined, so a request
// never sees it change under it: no lock while handling.
std::atomic<const HttpServer::Handlers*> g_handlers{nullptr};

void Reply(mg_connection* c, int code, const char* reason, const char* type,
           const std::string& body) {
  mg_printf(c,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: "
            "no-store\r\nConnection: close\r\n\r\n",
            code, reason, type, body.size());
  mg_write(c, body.data(), body.size());
}

int BeginRequest(mg_connection* c) {
  const mg_request_info* info = mg_get_request_info(c);
  const char* uri = info->local_uri;
  if (uri == nullptr) return 0;
  const HttpServer::Handlers* handlers = g_handlers.load();
  if (handlers == nullptr) return 0;
  if (std::strcmp(uri, "/healthz") == 0) {
    bool ok = handlers->healthy();
    Reply(c, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "text/plain",
          ok ? "ok\n" : "event loop stalled\n");
    return ok ? 200 : 503;
  }
  if (std::strcmp(uri, "/readyz") == 0) {
    bool ok = handlers->ready();
    Reply(c, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "text/plain",
          ok ? "ready\n" : "waiting for the first run of every probe\n");
    return ok ? 200 : 503;
  }
  if (std::strcmp(uri, "/status") == 0) {
    Reply(c, 200, "OK", "application/json", handlers->status_json());
    return 200;
  }
  if (std::strcmp(uri, "/") == 0) {
    Reply(c, 200, "OK", "text/html",
          "<html><body><h1>cachewarden</h1><ul><li><a href=\"/metrics\">/metrics</a><li><a "
          "href=\"/status\">/status</a><li><a href=\"/healthz\">/healthz</a>"
          "<li><a href=\"/readyz\">/readyz</a></ul></body></html>\n");
    return 200;
  }
  return 0;  // /metrics and 404s: civetweb and the Exposer
}

}  // namespace

std::string CivetListenAddress(const std::string& listen) {
  if (!listen.empty() && listen[0] == ':') return listen.substr(1);
  return listen;
}

class HttpServer::Impl {
 public:
  Impl(const std::string& listen, Handlers handlers) : handlers_(std::move(handlers)) {
    const HttpServer::Handlers* none = nullptr;
    if (!g_handlers.compare_exchange_strong(none, &handlers_)) {
      throw std::logic_error("one HttpServer at a time");
    }
    CivetCallbacks callbacks;
    callbacks.begin_request = &BeginRequest;
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(
          std::vector<std::string>{"listening_ports", CivetListenAddress(listen), "num_threads",
                                   "4"},
          &callbacks);
    } catch (const std::exception& e) {
      Unregister();
      throw std::runtime_error(fmt::format("cannot listen on \"{}\": {}", listen, e.what()));
    }
    collectable_ = std::make_shared<ProviderCollectable>(handlers_.metrics);
    exposer_->RegisterCollectable(collectable_);
  }
  ~Impl() {
    exposer_.reset();  // joins civetweb's threads
    Unregister();
  }
  int port() const {
    auto ports = exposer_->GetListeningPorts();
    return ports.empty() ? 0 : ports.front();
  }

 private:
  static void Unregister() { g_handlers = nullptr; }
  Handlers handlers_;
  std::shared_ptr<ProviderCollectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

HttpServer::HttpServer(const std::string& listen, Handlers handlers)
    : impl_(std::make_unique<Impl>(listen, std::move(handlers))) {}
HttpServer::~HttpServer() = default;
int HttpServer::port() const { return impl_->port(); }

}  // namespace cachewarden
