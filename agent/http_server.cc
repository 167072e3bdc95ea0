#include "agent/http_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <fmt/format.h>
#include <zlib.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

#include "agent/exposition.h"

namespace cachewarden {
namespace {

constexpr std::string_view kIndexPage =
    "<html><body><h1>cachewarden</h1><ul><li><a href=\"/metrics\">/metrics</a><li><a "
    "href=\"/status\">/status</a><li><a href=\"/healthz\">/healthz</a>"
    "<li><a href=\"/readyz\">/readyz</a></ul></body></html>\n";

struct Response {
  int code = 200;
  const char* type = "text/plain";
  std::string body;
};

const char* ReasonPhrase(int code) { return code == 200 ? "OK" : "Service Unavailable"; }

void Reply(mg_connection* c, const Response& r, bool with_body) {
  mg_printf(c,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: "
            "no-store\r\nConnection: close\r\n\r\n",
            r.code, ReasonPhrase(r.code), r.type, r.body.size());
  if (with_body) mg_write(c, r.body.data(), r.body.size());
}

// One of the plain paths: served for every method at exactly `path`. Anything below it (civetweb
// also hands us "/healthz/x") is declined, so civetweb answers 404 or 405 as for an unknown path.
class ExactPathHandler : public CivetHandler {
 public:
  ExactPathHandler(std::string path, std::function<Response()> respond)
      : path_(std::move(path)), respond_(std::move(respond)) {}

  bool handleGet(CivetServer*, mg_connection* c) override { return Serve(c, true); }
  bool handleHead(CivetServer*, mg_connection* c) override { return Serve(c, false); }
  bool handlePost(CivetServer*, mg_connection* c) override { return Serve(c, true); }
  bool handlePut(CivetServer*, mg_connection* c) override { return Serve(c, true); }
  bool handleDelete(CivetServer*, mg_connection* c) override { return Serve(c, true); }
  bool handleOptions(CivetServer*, mg_connection* c) override { return Serve(c, true); }
  bool handlePatch(CivetServer*, mg_connection* c) override { return Serve(c, true); }

 private:
  bool Serve(mg_connection* c, bool with_body) {
    const char* uri = mg_get_request_info(c)->local_uri;
    if (uri == nullptr || path_ != uri) return false;
    Reply(c, respond_(), with_body);
    return true;
  }

  std::string path_;
  std::function<Response()> respond_;
};

bool AcceptsGzip(mg_connection* c) {
  const char* accepted = mg_get_header(c, "Accept-Encoding");
  return accepted != nullptr && std::strstr(accepted, "gzip") != nullptr;
}

// The gzip stream of `in`, or "" if zlib fails (the caller then sends it uncompressed).
std::string Gzip(const std::string& in) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return "";
  }
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : "";
}

// /metrics, GET only, as prometheus-cpp's Exposer served it: other methods are declined (civetweb's
// 404 or 405), and the body is gzip-compressed when the client accepts it.
class MetricsHandler : public CivetHandler {
 public:
  explicit MetricsHandler(std::function<std::vector<prometheus::MetricFamily>()> metrics)
      : metrics_(std::move(metrics)) {}

  bool handleGet(CivetServer*, mg_connection* c) override {
    std::string text = ExpositionText(metrics_());
    std::string gzipped = AcceptsGzip(c) ? Gzip(text) : "";
    const std::string& body = gzipped.empty() ? text : gzipped;
    mg_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%sContent-Length: %zu\r\n\r\n",
              kExpositionContentType, gzipped.empty() ? "" : "Content-Encoding: gzip\r\n",
              body.size());
    mg_write(c, body.data(), body.size());
    return true;
  }

 private:
  std::function<std::vector<prometheus::MetricFamily>()> metrics_;
};

}  // namespace

std::string CivetListenAddress(const std::string& listen) {
  if (!listen.empty() && listen[0] == ':') return listen.substr(1);
  return listen;
}

class HttpServer::Impl {
 public:
  Impl(const std::string& listen, Handlers h)
      : handlers_(std::move(h)),
        metrics_(handlers_.metrics),
        healthz_(
            "/healthz",
            [this] {
              bool ok = handlers_.healthy();
              return Response{ok ? 200 : 503, "text/plain", ok ? "ok\n" : "event loop stalled\n"};
            }),
        readyz_("/readyz",
                [this] {
                  bool ok = handlers_.ready();
                  return Response{ok ? 200 : 503, "text/plain",
                                  ok ? "ready\n" : "waiting for the first run of every probe\n"};
                }),
        status_("/status",
                [this] {
                  return Response{200, "application/json", handlers_.status_json()};
                }),
        index_("/", [] {
          return Response{200, "text/html", std::string(kIndexPage)};
        }) {
    try {
      server_ = std::make_unique<CivetServer>(std::vector<std::string>{
          "listening_ports", CivetListenAddress(listen), "num_threads", "4"});
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("cannot listen on \"{}\": {}", listen, e.what()));
    }
    server_->addHandler("/metrics", metrics_);
    server_->addHandler("/healthz", healthz_);
    server_->addHandler("/readyz", readyz_);
    server_->addHandler("/status", status_);
    server_->addHandler("/", index_);
  }

  // The workers are joined before the handlers they call are destroyed.
  ~Impl() { server_.reset(); }

  int port() const {
    auto ports = server_->getListeningPorts();
    return ports.empty() ? 0 : ports.front();
  }

 private:
  Handlers handlers_;
  MetricsHandler metrics_;
  ExactPathHandler healthz_, readyz_, status_, index_;
  std::unique_ptr<CivetServer> server_;
};

HttpServer::HttpServer(const std::string& listen, Handlers handlers)
    : impl_(std::make_unique<Impl>(listen, std::move(handlers))) {}
HttpServer::~HttpServer() = default;
int HttpServer::port() const { return impl_->port(); }

}  // namespace cachewarden
