#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "base/status.h"
#include "probes/cert_info.h"

namespace cachewarden {

// How a BuildKit TCP endpoint answers a client, found without ever sending a build request: a TLS
// ClientHello (OpenSSL, no client certificate, no verification), and when the answer is not TLS, a
// second connection with the HTTP/2 client preface and an empty SETTINGS frame.
enum class Transport {
  kTls,        // a TLS ServerHello came back
  kPlaintext,  // not TLS, and a SETTINGS frame answered the HTTP/2 preface: h2c gRPC
};

struct HandshakeResult {
  Transport transport = Transport::kTls;
  // With TLS: the server refused a client without a certificate (a fatal alert during the
  // handshake, or, with TLS 1.3, right after it: "certificate required").
  bool client_cert_required = false;
  std::string alert;        // the server's fatal alert, "" if none
  std::string tls_version;  // "TLSv1.3"
  std::optional<CertInfo> served;
};

// Judges tcp://`host`:`port` (host: an IPv4 or IPv6 literal, or a name getaddrinfo resolves). Each
// connection, write and read is bounded by `timeout`: the whole call takes at most about three
// times that. kMissing/kIo for a refused or unreachable endpoint, kTimeout when it does not answer
// in time, kParse when it answers neither TLS nor HTTP/2. Blocks the calling thread; thread-safe.
Status ProbeEndpoint(const std::string& host, int port, std::chrono::milliseconds timeout,
                     HandshakeResult* out);

}  // namespace cachewarden
