#pragma once

#include <openssl/ssl.h>

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/config_reader.h"
#include "base/enum_names.h"

namespace cachewarden {

// How the listener treats client certificates; the names and meanings are the exporter-toolkit's
// (Go's tls.ClientAuthType): only the two "Verify" kinds check the certificate against
// client_ca_file, the "Require" kinds refuse a handshake without one.
enum class ClientAuth {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};
inline constexpr std::array<EnumName<ClientAuth>, 5> kClientAuthNames{{
    {ClientAuth::kNoClientCert, "NoClientCert"},
    {ClientAuth::kRequestClientCert, "RequestClientCert"},
    {ClientAuth::kRequireAnyClientCert, "RequireAnyClientCert"},
    {ClientAuth::kVerifyClientCertIfGiven, "VerifyClientCertIfGiven"},
    {ClientAuth::kRequireAndVerifyClientCert, "RequireAndVerifyClientCert"},
}};

enum class TlsVersion { kTls12, kTls13 };
inline constexpr std::array<EnumName<TlsVersion>, 2> kTlsVersionNames{{
    {TlsVersion::kTls12, "TLS12"},
    {TlsVersion::kTls13, "TLS13"},
}};

// What /status shows: everything, or only numbers, booleans and counts (StatusCounts).
enum class StatusDetail { kFull, kCounts };
inline constexpr std::array<EnumName<StatusDetail>, 2> kStatusDetailNames{{
    {StatusDetail::kFull, "full"},
    {StatusDetail::kCounts, "counts"},
}};

// The exporter-toolkit's tls_server_config (file paths; the files are read when a listener
// configuration is built, so a reload picks up rotated certificates).
struct TlsServerConfig {
  std::string cert_file, key_file, client_ca_file;
  ClientAuth client_auth = ClientAuth::kNoClientCert;
  TlsVersion min_version = TlsVersion::kTls12;
  bool operator==(const TlsServerConfig&) const = default;
};

// The `web` section of the config, with the exporter-toolkit web config file it names already
// read. Plain data, comparable; immutable once loaded.
struct WebConfig {
  std::string config_file;  // "" when none is given: plain HTTP, no auth
  std::optional<TlsServerConfig> tls;
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
  // Whether /healthz and /readyz answer without credentials (for the kubelet's probes).
  bool health_without_auth = true;
  StatusDetail status_detail = StatusDetail::kFull;
  // Connections held at once; past it the oldest one still sending its request is dropped (else
  // the oldest answered or stalled one: see http_server.h).
  int max_connections = 512;
  // From accept to the end of the request head (TLS handshake included).
  Duration request_timeout = std::chrono::seconds(10);
  bool operator==(const WebConfig&) const = default;
};

// Reads the config's `web` section and the web config file it names (JSON in the exporter-toolkit
// format: YAML needs a library we do not link). Throws ConfigError naming the key: in the file's
// case "/web/config_file: <file>: /tls_server_config/cert_file: ...". Certificates and keys are
// loaded once here too, so that a file that does not load is a config error.
WebConfig ReadWebConfig(ConfigReader& web);

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// A server context for `tls`, reading its files now. Throws ConfigError naming the key whose file
// does not load (path "/tls_server_config/<key>").
SslCtxPtr BuildTlsContext(const TlsServerConfig& tls);

// Whether `password` matches the crypt(3) `hash` ($2b$/$2y$ bcrypt through libxcrypt). Slow by
// design (tens to hundreds of milliseconds): never call it on an event loop. Thread-safe.
bool VerifyPassword(const std::string& password, const std::string& hash);

// /status as status_detail "counts": the same document with numbers, booleans and nulls kept,
// every list replaced by its length, and every string dropped except the enum-like "status" and
// "reason" values and the agent's version and revision (strings are where pids' commands, mount
// sources, log lines and command output live). `json` that does not parse gives "{}".
std::string StatusCounts(const std::string& json);

}  // namespace cachewarden
