#include "probes/endpoint_handshake.h"

#include <fmt/format.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "base/unique_fd.h"
#include "probes/cert_info_openssl.h"

namespace cachewarden {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// TLS 1.3 servers judge the client's (empty) Certificate after the client has finished its
// handshake: their alert comes in the first read after SSL_connect. On loopback or a LAN it comes
// within a round trip; a server that accepts sends nothing more.
constexpr milliseconds kAfterHandshakeWait(500);

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::string Where(const std::string& host, int port) {
  return fmt::format("tcp://{}:{}", host, port);
}

// Waits for `events` on `fd` until `deadline`. The milliseconds left are rounded up: truncated,
// a wait with 0.7 ms left would give up before the deadline.
Status WaitFor(int fd, short events, Clock::time_point deadline, const std::string& where,
               const char* doing) {
  while (true) {
    const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return Status::Error(StatusCode::kTimeout, fmt::format("no answer {}", doing), 0, where);
    }
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n > 0) return Status::Ok();
    if (n < 0 && errno != EINTR) return PosixError("poll", where, errno);
  }
}

Status Connect(const std::string& host, int port, Clock::time_point deadline, UniqueFd* out) {
  const std::string where = Where(host, port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return Status::Error(StatusCode::kMissing,
                         fmt::format("cannot resolve {}: {}", host, gai_strerror(rc)), 0, where);
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(res, &freeaddrinfo);
  Status last = Status::Error(StatusCode::kMissing, "no address", 0, where);
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    UniqueFd fd(socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return PosixError("socket", where, errno);
    if (connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = PosixError("connect", where, errno);
        continue;
      }
      if (Status s = WaitFor(fd.get(), POLLOUT, deadline, where, "connecting"); !s.ok()) {
        last = s;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) {
        last = PosixError("connect", where, err);
        continue;
      }
    }
    *out = std::move(fd);
    return Status::Ok();
  }
  return last;
}

// What the message and info callbacks saw of the server during one handshake.
struct Seen {
  bool server_hello = false;
  std::string alert;  // a fatal alert the server sent
};

void OnMessage(int write_p, int /*version*/, int content_type, const void* buf, std::size_t len,
               SSL* /*ssl*/, void* arg) {
  auto* seen = static_cast<Seen*>(arg);
  const auto* b = static_cast<const unsigned char*>(buf);
  if (write_p != 0 || len == 0) return;
  if (content_type == SSL3_RT_HANDSHAKE && b[0] == SSL3_MT_SERVER_HELLO) seen->server_hello = true;
  if (content_type == SSL3_RT_ALERT && len >= 2 && b[0] == SSL3_AL_FATAL) {
    seen->alert = SSL_alert_desc_string_long(b[1]);
  }
}

// Runs `step` (SSL_connect or SSL_read) until it completes, fails, or `deadline` passes.
enum class Step { kDone, kFailed, kTimedOut, kClosed };
template <typename F>
Step Drive(SSL* ssl, int fd, Clock::time_point deadline, F step) {
  while (true) {
    const int r = step();
    if (r > 0) return Step::kDone;
    const int err = SSL_get_error(ssl, r);
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else {
      return err == SSL_ERROR_ZERO_RETURN ? Step::kClosed : Step::kFailed;
    }
    if (!WaitFor(fd, events, deadline, "", "").ok()) return Step::kTimedOut;
  }
}

// The ClientHello. True with *tls set when a ServerHello came back; false when the answer was not
// TLS (bytes that are not a record, or a close).
Status TryTls(const std::string& host, int port, milliseconds timeout, bool* tls,
              HandshakeResult* out) {
  const std::string where = Where(host, port);
  UniqueFd fd;
  if (Status s = Connect(host, port, Clock::now() + timeout, &fd); !s.ok()) return s;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return Status::Error(StatusCode::kInternal, "SSL_CTX_new failed", 0, where);
  // We look at the door, we do not trust it: any certificate, any key size, no verification.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_security_level(ctx.get(), 0);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (ssl == nullptr) return Status::Error(StatusCode::kInternal, "SSL_new failed", 0, where);
  Seen seen;
  SSL_set_msg_callback(ssl.get(), &OnMessage);
  SSL_set_msg_callback_arg(ssl.get(), &seen);
  SSL_set_fd(ssl.get(), fd.get());
  SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  const Step hs =
      Drive(ssl.get(), fd.get(), Clock::now() + timeout, [&] { return SSL_connect(ssl.get()); });
  *tls = seen.server_hello;
  if (!seen.server_hello) {
    ERR_clear_error();
    return Status::Ok();
  }
  out->transport = Transport::kTls;
  out->tls_version = SSL_get_version(ssl.get());
  if (std::unique_ptr<X509, X509Free> peer(SSL_get1_peer_certificate(ssl.get())); peer) {
    out->served = CertInfoOf(peer.get());
  }
  if (hs == Step::kTimedOut) {
    ERR_clear_error();
    return Status::Error(StatusCode::kTimeout, "TLS handshake did not finish", 0, where);
  }
  if (hs == Step::kDone) {
    const auto wait = std::min<milliseconds>(kAfterHandshakeWait, timeout);
    char byte = 0;
    Drive(ssl.get(), fd.get(), Clock::now() + wait, [&] { return SSL_read(ssl.get(), &byte, 1); });
  }
  ERR_clear_error();
  out->alert = seen.alert;
  out->client_cert_required = !seen.alert.empty();
  if (hs != Step::kDone && seen.alert.empty()) {
    return Status::Error(StatusCode::kIo, "TLS handshake failed without an alert", 0, where);
  }
  return Status::Ok();
}

Status SendAll(int fd, std::string_view data, Clock::time_point deadline,
               const std::string& where) {
  for (std::size_t sent = 0; sent < data.size();) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN) {
      if (Status s = WaitFor(fd, POLLOUT, deadline, where, "sending"); !s.ok()) return s;
    } else if (errno != EINTR) {
      return PosixError("send", where, errno);
    }
  }
  return Status::Ok();
}

// The HTTP/2 client preface and an empty SETTINGS frame; an h2c server answers with its SETTINGS.
Status TryH2c(const std::string& host, int port, milliseconds timeout) {
  const std::string where = Where(host, port);
  const auto deadline = Clock::now() + timeout;
  UniqueFd fd;
  if (Status s = Connect(host, port, deadline, &fd); !s.ok()) return s;
  static constexpr char kPreface[] =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
      "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
  if (Status s =
          SendAll(fd.get(), std::string_view(kPreface, sizeof kPreface - 1), deadline, where);
      !s.ok()) {
    return s;
  }
  unsigned char head[9];
  std::size_t got = 0;
  while (got < sizeof head) {
    const ssize_t n = recv(fd.get(), head + got, sizeof head - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN) {
      if (Status s = WaitFor(fd.get(), POLLIN, deadline, where, "to the HTTP/2 preface"); !s.ok()) {
        return s;
      }
    } else if (errno != EINTR) {
      return PosixError("recv", where, errno);
    }
  }
  // A frame head: 24-bit length, type (4: SETTINGS), flags, stream 0.
  const bool settings = got == sizeof head && head[3] == 0x04 && (head[5] & 0x7f) == 0 &&
                        head[6] == 0 && head[7] == 0 && head[8] == 0;
  if (!settings) {
    return Status::Error(StatusCode::kParse,
                         "answers neither a TLS ClientHello nor the HTTP/2 preface", 0, where);
  }
  return Status::Ok();
}

}  // namespace

Status ProbeEndpoint(const std::string& host, int port, milliseconds timeout,
                     HandshakeResult* out) {
  *out = {};
  bool tls = false;
  if (Status s = TryTls(host, port, timeout, &tls, out); !s.ok() || tls) return s;
  if (Status s = TryH2c(host, port, timeout); !s.ok()) return s;
  out->transport = Transport::kPlaintext;
  return Status::Ok();
}

}  // namespace cachewarden
