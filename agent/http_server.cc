#include "agent/http_server.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <uv.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "agent/exposition.h"
#include "agent/http_request.h"

namespace cachewarden {
namespace {

constexpr std::string_view kIndexPage =
    "<html><body><h1>cachewarden</h1><ul><li><a href=\"/metrics\">/metrics</a><li><a "
    "href=\"/status\">/status</a><li><a href=\"/healthz\">/healthz</a>"
    "<li><a href=\"/readyz\">/readyz</a></ul></body></html>\n";

constexpr std::uint64_t kResponseDeadlineMs = 30'000;
// After the response, how long a client has to close its side (its unread request body is
// drained meanwhile, so that closing does not reset the response away).
constexpr std::uint64_t kLingerMs = 2'000;
constexpr int kMaxBcryptInFlight = 2;
constexpr std::size_t kAuthCacheEntries = 64;

struct Response {
  int code = 200;
  std::string_view type = "text/plain";
  std::string body;
  std::string extra_headers;  // each ending in \r\n
};

std::string_view ReasonPhrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
  }
  return "Error";
}

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

std::string Sha256(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), n);
}

}  // namespace

// What a reload may change, built off the loop and swapped in whole.
struct Settings {
  WebConfig web;
  SslCtxPtr tls;  // null: plain HTTP
  std::uint64_t generation = 0;
};

class HttpServer::Impl {
 public:
  Impl(const std::string& listen, Handlers h, const WebConfig& web);
  ~Impl();
  void Configure(const WebConfig& web);
  int port() const { return port_; }
  int connections() const { return open_.load(); }

 private:
  enum class State { kReading, kAuthorizing, kWriting, kLingering, kClosing };
  struct Conn {
    Impl* server = nullptr;
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    uv_work_t work{};
    State state = State::kReading;
    int open_handles = 0;
    bool work_pending = false;
    std::string in;  // request head so far (plaintext)
    std::shared_ptr<const Settings> settings;
    SSL* ssl = nullptr;
    BIO* rbio = nullptr;  // owned by ssl
    BIO* wbio = nullptr;  // owned by ssl
    std::list<Conn*>::iterator pos;
    HttpRequestHead request;
    // The bcrypt check on the thread pool: its inputs and result.
    std::string user, password, hash;
    bool verified = false;
  };

  std::shared_ptr<const Settings> Current() {
    std::lock_guard lock(mutex_);
    return settings_;
  }
  static std::shared_ptr<const Settings> Build(const WebConfig& web, std::uint64_t generation);

  void OnConnection();
  void OnRead(Conn* c, ssize_t n, const uv_buf_t* buf);
  void OnPlaintext(Conn* c);
  void Dispatch(Conn* c);
  void Authorized(Conn* c);
  Response Route(Conn* c);
  void Send(Conn* c, const Response& r, bool with_body);
  void Finish(Conn* c);
  void WriteRaw(Conn* c, std::string bytes);
  bool FlushTls(Conn* c);
  void StartTimer(Conn* c, std::uint64_t ms);
  void Close(Conn* c);
  void MaybeFree(Conn* c);
  void Stop();

  Handlers handlers_;
  std::mutex mutex_;
  std::shared_ptr<const Settings> settings_;  // guarded by mutex_
  std::uint64_t next_generation_ = 1;         // guarded by mutex_

  uv_loop_t loop_{};
  uv_tcp_t listener_{};
  uv_async_t stop_{};
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> open_{0};

  // Loop thread only.
  std::list<Conn*> conns_;  // in accept order: the front is the oldest
  int bcrypt_in_flight_ = 0;
  std::uint64_t cache_generation_ = 0;
  std::deque<std::string> auth_cache_;  // user '\0' sha256(password), oldest first
  char read_buf_[64 * 1024];
};

std::shared_ptr<const Settings> HttpServer::Impl::Build(const WebConfig& web,
                                                        std::uint64_t generation) {
  auto s = std::make_shared<Settings>();
  s->web = web;
  if (web.tls) s->tls = BuildTlsContext(*web.tls);
  s->generation = generation;
  return s;
}

HttpServer::Impl::Impl(const std::string& listen, Handlers h, const WebConfig& web)
    : handlers_(std::move(h)), settings_(Build(web, 0)) {
  auto fail = [&](int rc) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    throw std::runtime_error(fmt::format("cannot listen on \"{}\": {}", listen, uv_strerror(rc)));
  };
  if (int rc = uv_loop_init(&loop_); rc != 0) {
    throw std::runtime_error(fmt::format("cannot listen on \"{}\": {}", listen, uv_strerror(rc)));
  }
  uv_tcp_init(&loop_, &listener_);
  listener_.data = this;
  auto colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  int port = colon == std::string::npos ? -1 : std::atoi(listen.c_str() + colon + 1);
  sockaddr_storage addr{};
  int rc = UV_EINVAL;
  if (port >= 0 && port <= 65535) {
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      rc = uv_ip6_addr(host.substr(1, host.size() - 2).c_str(), port,
                       reinterpret_cast<sockaddr_in6*>(&addr));
    } else {
      rc = uv_ip4_addr(host.empty() ? "0.0.0.0" : host.c_str(), port,
                       reinterpret_cast<sockaddr_in*>(&addr));
    }
  }
  if (rc == 0) rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 1024, [](uv_stream_t* s, int st) {
      if (st == 0) static_cast<Impl*>(s->data)->OnConnection();
    });
  }
  if (rc != 0) fail(rc);
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  uv_async_init(&loop_, &stop_, [](uv_async_t* a) { static_cast<Impl*>(a->data)->Stop(); });
  stop_.data = this;
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

HttpServer::Impl::~Impl() {
  uv_async_send(&stop_);
  thread_.join();
  uv_loop_close(&loop_);
}

void HttpServer::Impl::Configure(const WebConfig& web) {
  std::uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    generation = next_generation_++;
  }
  auto next = Build(web, generation);  // reads the files outside the lock; may throw
  std::lock_guard lock(mutex_);
  settings_ = std::move(next);
}

void HttpServer::Impl::Stop() {
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_), nullptr);
  while (!conns_.empty()) Close(conns_.front());
  // uv_run returns once every handle is closed and bcrypt checks in flight have come back.
}

void HttpServer::Impl::OnConnection() {
  auto* c = new Conn;
  c->server = this;
  uv_tcp_init(&loop_, &c->tcp);
  uv_timer_init(&loop_, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  open_++;
  c->pos = conns_.insert(conns_.end(), c);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener_),
                reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    Close(c);
    return;
  }
  c->settings = Current();
  const WebConfig& web = c->settings->web;
  if (static_cast<int>(conns_.size()) > web.max_connections) {
    // Room is made by the oldest connection still sending its head, else the oldest already
    // answered (lingering for the client's close), else the oldest whose client is not reading
    // its answer: a new client always gets in, so that /healthz does. Only a connection waiting
    // for its bcrypt check (two at most) is never dropped.
    Conn* victim = nullptr;
    for (State wanted : {State::kReading, State::kLingering, State::kWriting}) {
      auto it = std::find_if(conns_.begin(), conns_.end(),
                             [&](Conn* o) { return o != c && o->state == wanted; });
      if (it != conns_.end()) {
        victim = *it;
        break;
      }
    }
    if (victim == nullptr) {
      Close(c);
      return;
    }
    Close(victim);
  }
  uv_tcp_nodelay(&c->tcp, 1);
  if (c->settings->tls) {
    c->ssl = SSL_new(c->settings->tls.get());
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    if (c->ssl == nullptr || rbio == nullptr || wbio == nullptr) {
      BIO_free(rbio);
      BIO_free(wbio);
      Close(c);  // frees ssl
      return;
    }
    SSL_set_bio(c->ssl, rbio, wbio);  // ssl owns them now
    c->rbio = rbio;
    c->wbio = wbio;
    SSL_set_accept_state(c->ssl);
  }
  StartTimer(
      c, static_cast<std::uint64_t>(
             std::chrono::duration_cast<std::chrono::milliseconds>(web.request_timeout).count()));
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
        Impl* self = static_cast<Conn*>(h->data)->server;
        *buf = uv_buf_init(self->read_buf_, sizeof self->read_buf_);
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* conn = static_cast<Conn*>(s->data);
        conn->server->OnRead(conn, n, buf);
      });
}

void HttpServer::Impl::StartTimer(Conn* c, std::uint64_t ms) {
  uv_timer_start(
      &c->timer,
      [](uv_timer_t* t) {
        auto* conn = static_cast<Conn*>(t->data);
        conn->server->Close(conn);
      },
      ms, 0);
}

void HttpServer::Impl::OnRead(Conn* c, ssize_t n, const uv_buf_t* buf) {
  if (n < 0) {
    Close(c);
    return;
  }
  if (n == 0 || c->state == State::kClosing) return;
  if (c->state != State::kReading) return;  // a request body or pipelined bytes: ignored
  if (c->ssl == nullptr) {
    std::size_t room = kMaxRequestHeadBytes + 4 - std::min(c->in.size(), kMaxRequestHeadBytes + 4);
    c->in.append(buf->base, std::min(static_cast<std::size_t>(n), room));
    OnPlaintext(c);
    return;
  }
  BIO_write(c->rbio, buf->base, static_cast<int>(n));
  if (!SSL_is_init_finished(c->ssl)) {
    int rc = SSL_do_handshake(c->ssl);
    bool flushed = FlushTls(c);
    if (rc != 1) {
      int err = SSL_get_error(c->ssl, rc);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ && flushed) return;
      if (flushed) Finish(c);  // the alert goes out first
      return;
    }
  }
  char plain[4096];
  while (c->state == State::kReading) {
    int got = SSL_read(c->ssl, plain, sizeof plain);
    if (got <= 0) {
      int err = SSL_get_error(c->ssl, got);
      ERR_clear_error();
      FlushTls(c);  // post-handshake messages (TLS 1.3 tickets)
      if (err != SSL_ERROR_WANT_READ) Close(c);
      return;
    }
    std::size_t room = kMaxRequestHeadBytes + 4 - std::min(c->in.size(), kMaxRequestHeadBytes + 4);
    c->in.append(plain, std::min(static_cast<std::size_t>(got), room));
    OnPlaintext(c);
  }
}

void HttpServer::Impl::OnPlaintext(Conn* c) {
  int code = ParseRequestHead(c->in, &c->request);
  if (code == 0) return;  // more to come
  StartTimer(c, kResponseDeadlineMs);
  if (code == 431) {
    Send(c, Response{431, "text/plain", "request head too large\n", ""}, true);
  } else if (code != 200) {
    Send(c, Response{code, "text/plain", "bad request\n", ""}, true);
  } else {
    Dispatch(c);
  }
}

void HttpServer::Impl::Dispatch(Conn* c) {
  const Settings& s = *c->settings;
  const std::string& path = c->request.path;
  bool health = path == "/healthz" || path == "/readyz";
  if (s.web.basic_auth_users.empty() || (health && s.web.health_without_auth)) {
    Authorized(c);
    return;
  }
  Response denied{401, "text/plain", "unauthorized\n",
                  "WWW-Authenticate: Basic realm=\"cachewarden\", charset=\"UTF-8\"\r\n"};
  const std::string& auth = c->request.authorization;
  std::optional<std::string> decoded;
  if (auth.size() > 6 && AsciiLower(std::string_view(auth).substr(0, 6)) == "basic ") {
    decoded = Base64Decode(std::string_view(auth).substr(6));
  }
  auto colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) {
    Send(c, denied, true);
    return;
  }
  c->user = decoded->substr(0, colon);
  c->password = decoded->substr(colon + 1);
  if (cache_generation_ != s.generation) {
    auth_cache_.clear();
    cache_generation_ = s.generation;
  }
  std::string key = c->user + '\0' + Sha256(c->password);
  if (std::find(auth_cache_.begin(), auth_cache_.end(), key) != auth_cache_.end()) {
    Authorized(c);
    return;
  }
  if (bcrypt_in_flight_ >= kMaxBcryptInFlight) {
    Send(c, Response{429, "text/plain", "too many authentications at once\n", "Retry-After: 1\r\n"},
         true);
    return;
  }
  auto user = s.web.basic_auth_users.find(c->user);
  // An unknown user costs a bcrypt too, so that timing does not tell which users exist.
  static const std::string kDummy = "$2b$10$abcdefghijklmnopqrstuu5G9LnKVFY9t9JXhbSq0JuQ0qNpQQnvq";
  c->hash = user == s.web.basic_auth_users.end() ? kDummy : user->second;
  bool known = user != s.web.basic_auth_users.end();
  c->state = State::kAuthorizing;
  c->work_pending = true;
  c->work.data = c;
  c->verified = known;
  bcrypt_in_flight_++;
  uv_queue_work(
      &loop_, &c->work,
      [](uv_work_t* w) {
        auto* conn = static_cast<Conn*>(w->data);
        conn->verified = VerifyPassword(conn->password, conn->hash) && conn->verified;
      },
      [](uv_work_t* w, int) {
        auto* conn = static_cast<Conn*>(w->data);
        Impl* self = conn->server;
        self->bcrypt_in_flight_--;
        conn->work_pending = false;
        if (conn->state == State::kClosing) {
          self->MaybeFree(conn);
          return;
        }
        if (!conn->verified) {
          self->Send(
              conn,
              Response{401, "text/plain", "unauthorized\n",
                       "WWW-Authenticate: Basic realm=\"cachewarden\", charset=\"UTF-8\"\r\n"},
              true);
          return;
        }
        if (self->cache_generation_ == conn->settings->generation) {
          if (self->auth_cache_.size() >= kAuthCacheEntries) self->auth_cache_.pop_front();
          self->auth_cache_.push_back(conn->user + '\0' + Sha256(conn->password));
        }
        self->Authorized(conn);
      });
}

void HttpServer::Impl::Authorized(Conn* c) {
  const std::string& m = c->request.method;
  Response r = Route(c);
  Send(c, r, m != "HEAD");
}

Response HttpServer::Impl::Route(Conn* c) {
  const std::string& path = c->request.path;
  const std::string& method = c->request.method;
  auto unknown = [&] {
    bool not_allowed = method == "PUT" || method == "DELETE" || method == "PATCH";
    return not_allowed ? Response{405, "text/plain", "method not allowed\n", "Allow: GET, HEAD\r\n"}
                       : Response{404, "text/plain", "not found\n", ""};
  };
  if (path == "/metrics" || path.starts_with("/metrics/")) {
    if (method != "GET" && method != "HEAD") return unknown();
    Response r{200, kExpositionContentType, ExpositionText(handlers_.metrics()), ""};
    if (c->request.accept_encoding.find("gzip") != std::string::npos) {
      std::string gzipped = Gzip(r.body);
      if (!gzipped.empty())
        r.body = std::move(gzipped), r.extra_headers = "Content-Encoding: gzip\r\n";
    }
    return r;
  }
  if (path == "/healthz") {
    bool ok = handlers_.healthy();
    return Response{ok ? 200 : 503, "text/plain", ok ? "ok\n" : "event loop stalled\n",
                    "Cache-Control: no-store\r\n"};
  }
  if (path == "/readyz") {
    bool ok = handlers_.ready();
    return Response{ok ? 200 : 503, "text/plain",
                    ok ? "ready\n" : "waiting for the first run of every probe\n",
                    "Cache-Control: no-store\r\n"};
  }
  if (path == "/status") {
    std::string json = handlers_.status_json();
    if (c->settings->web.status_detail == StatusDetail::kCounts) json = StatusCounts(json);
    return Response{200, "application/json", std::move(json), "Cache-Control: no-store\r\n"};
  }
  if (path == "/") {
    return Response{200, "text/html", std::string(kIndexPage), "Cache-Control: no-store\r\n"};
  }
  return unknown();
}

void HttpServer::Impl::Send(Conn* c, const Response& r, bool with_body) {
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
  c->state = State::kWriting;
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
      r.code, ReasonPhrase(r.code), r.type, r.body.size(), r.extra_headers);
  if (with_body) out += r.body;
  if (c->ssl == nullptr) {
    WriteRaw(c, std::move(out));
  } else {
    if (SSL_write(c->ssl, out.data(), static_cast<int>(out.size())) <= 0) {
      ERR_clear_error();
      Close(c);
      return;
    }
    SSL_shutdown(c->ssl);  // close_notify, queued after the response
    ERR_clear_error();
    if (!FlushTls(c)) return;
  }
  Finish(c);
}

// Once what is queued is written: half-close, drain what the client still sends, close at its EOF
// or the linger bound (closing at once could reset the connection before the client has read it).
void HttpServer::Impl::Finish(Conn* c) {
  if (c->state == State::kClosing) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
  c->state = State::kWriting;
  auto* req = new uv_shutdown_t;
  req->data = c;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c->tcp), [](uv_shutdown_t* q, int status) {
        auto* conn = static_cast<Conn*>(q->data);
        delete q;
        if (conn->state == State::kClosing) return;
        if (status != 0) {
          conn->server->Close(conn);
          return;
        }
        conn->state = State::kLingering;
        conn->server->StartTimer(conn, kLingerMs);
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&conn->tcp),
            [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
              Impl* self = static_cast<Conn*>(h->data)->server;
              *buf = uv_buf_init(self->read_buf_, sizeof self->read_buf_);
            },
            [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
              auto* cc = static_cast<Conn*>(s->data);
              if (n < 0) cc->server->Close(cc);
            });
      }) != 0) {
    delete req;
    Close(c);
  }
}

// Moves what OpenSSL has queued for the peer onto the socket. False (and the connection closed)
// if writing fails.
bool HttpServer::Impl::FlushTls(Conn* c) {
  std::string bytes;
  char chunk[16 * 1024];
  int n;
  while ((n = BIO_read(c->wbio, chunk, sizeof chunk)) > 0) bytes.append(chunk, n);
  if (bytes.empty()) return true;
  WriteRaw(c, std::move(bytes));
  return c->state != State::kClosing;
}

void HttpServer::Impl::WriteRaw(Conn* c, std::string bytes) {
  struct Write {
    uv_write_t req;
    std::string bytes;
  };
  auto* w = new Write{{}, std::move(bytes)};
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                    [](uv_write_t* req, int) { delete static_cast<Write*>(req->data); });
  if (rc != 0) {
    delete w;
    Close(c);
  }
}

void HttpServer::Impl::Close(Conn* c) {
  if (c->state == State::kClosing) return;
  c->state = State::kClosing;
  conns_.erase(c->pos);
  auto closed = [](uv_handle_t* h) {
    auto* conn = static_cast<Conn*>(h->data);
    conn->open_handles--;
    conn->server->MaybeFree(conn);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), closed);
}

void HttpServer::Impl::MaybeFree(Conn* c) {
  if (c->open_handles > 0 || c->work_pending) return;
  if (c->ssl != nullptr) SSL_free(c->ssl);
  delete c;
  open_--;
}

HttpServer::HttpServer(const std::string& listen, Handlers handlers, const WebConfig& web)
    : impl_(std::make_unique<Impl>(listen, std::move(handlers), web)) {}
HttpServer::~HttpServer() = default;
void HttpServer::Configure(const WebConfig& web) { impl_->Configure(web); }
int HttpServer::port() const { return impl_->port(); }
int HttpServer::connections() const { return impl_->connections(); }

}  // namespace cachewarden
