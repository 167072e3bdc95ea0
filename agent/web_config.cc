#include "agent/web_config.h"

#include <crypt.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstring>
#include <string>

#include "base/json_text.h"

namespace cachewarden {
namespace {

// The newest OpenSSL error as text, clearing the queue.
std::string SslError() {
  unsigned long e = ERR_peek_last_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

[[noreturn]] void TlsFail(std::string_view key, std::string_view what, const std::string& file) {
  throw ConfigError(fmt::format("/tls_server_config/{}", key),
                    fmt::format("cannot load {} \"{}\": {}", what, file, SslError()));
}

TlsServerConfig ReadTls(ConfigReader& r) {
  TlsServerConfig t;
  t.cert_file = r.String("cert_file", "");
  t.key_file = r.String("key_file", "");
  t.client_ca_file = r.String("client_ca_file", "");
  bool auth_given = r.Has("client_auth_type");
  t.client_auth = r.Choice<ClientAuth>("client_auth_type", ClientAuth::kNoClientCert,
                                       std::span<const EnumName<ClientAuth>>(kClientAuthNames));
  t.min_version = r.Choice<TlsVersion>("min_version", TlsVersion::kTls12,
                                       std::span<const EnumName<TlsVersion>>(kTlsVersionNames));
  r.Finish();
  if (t.cert_file.empty()) r.Fail("cert_file", "required when tls_server_config is given");
  if (t.key_file.empty()) r.Fail("key_file", "required when tls_server_config is given");
  // A CA given without a policy would otherwise be silently unused: verify against it.
  if (!auth_given && !t.client_ca_file.empty()) {
    t.client_auth = ClientAuth::kRequireAndVerifyClientCert;
  }
  bool verifies = t.client_auth == ClientAuth::kVerifyClientCertIfGiven ||
                  t.client_auth == ClientAuth::kRequireAndVerifyClientCert;
  if (verifies && t.client_ca_file.empty()) {
    r.Fail("client_ca_file", fmt::format("required by client_auth_type \"{}\"",
                                         NameIn<ClientAuth>(kClientAuthNames, t.client_auth)));
  }
  return t;
}

bool IsBcrypt(const std::string& hash) {
  return hash.size() == 60 &&
         (hash.starts_with("$2b$") || hash.starts_with("$2y$") || hash.starts_with("$2a$"));
}

// Reads the exporter-toolkit web config document into `out`.
void ReadWebFile(const nlohmann::json& doc, WebConfig& out) {
  nlohmann::json scratch = nlohmann::json::object();
  ConfigReader top(&doc, "", &scratch);
  if (top.Has("tls_server_config")) {
    ConfigReader tls = top.Object("tls_server_config");
    out.tls = ReadTls(tls);
  } else {
    top.Unset("tls_server_config");
  }
  for (const auto& [user, hash] : top.StringMap("basic_auth_users")) {
    if (user.empty() || user.find(':') != std::string::npos) {
      top.Fail("basic_auth_users", fmt::format("user \"{}\": a user name is not empty and has no "
                                               "':'",
                                               user));
    }
    if (!IsBcrypt(hash) || crypt_checksalt(hash.c_str()) != CRYPT_SALT_OK) {
      top.Fail("basic_auth_users/" + user,
               "expected a bcrypt hash ($2b$ or $2y$, 60 characters, e.g. from htpasswd -nbB)");
    }
    out.basic_auth_users[user] = hash;
  }
  top.Unset("http_server_config");  // its headers and http2 switch are not supported: say so
  if (doc.is_object() && doc.contains("http_server_config")) {
    top.Fail("http_server_config", "not supported by cachewarden");
  }
  top.Finish();
  if (out.tls) BuildTlsContext(*out.tls);  // the files must load now, not on the first handshake
}

// Keeps what /status may show under "counts": see StatusCounts.
nlohmann::json Counts(const nlohmann::json& j, std::string_view key, std::string_view parent) {
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : j.items()) {
      nlohmann::json c = Counts(v, k, key);
      if (c.is_discarded()) continue;
      // A list BoundArrays cut counts whole; its "<list>_omitted" is then folded into the count.
      if (v.is_array()) {
        if (auto it = j.find(k + std::string(kOmittedSuffix)); it != j.end() && it->is_number()) {
          c = c.get<std::size_t>() + it->get<std::size_t>();
        }
      } else if (k.ends_with(kOmittedSuffix)) {
        auto list = j.find(k.substr(0, k.size() - kOmittedSuffix.size()));
        if (list != j.end() && list->is_array()) continue;
      }
      out[k] = std::move(c);
    }
    return out;
  }
  if (j.is_array()) return j.size();
  if (j.is_string()) {
    bool keep = key == "status" || key == "reason" ||
                (parent == "agent" && (key == "version" || key == "revision"));
    return keep ? j : nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return j;
}

}  // namespace

SslCtxPtr BuildTlsContext(const TlsServerConfig& t) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw ConfigError("/tls_server_config", "cannot create a TLS context: " + SslError());
  SSL_CTX_set_min_proto_version(
      ctx.get(), t.min_version == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), t.cert_file.c_str()) != 1) {
    TlsFail("cert_file", "the certificate", t.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), t.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    TlsFail("key_file", "the key", t.key_file);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    TlsFail("key_file", "a key matching cert_file from", t.key_file);
  }
  if (!t.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), t.client_ca_file.c_str(), nullptr) != 1) {
      TlsFail("client_ca_file", "the CA certificates", t.client_ca_file);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(t.client_ca_file.c_str());
    if (names == nullptr) TlsFail("client_ca_file", "the CA names", t.client_ca_file);
    SSL_CTX_set_client_CA_list(ctx.get(), names);
  }
  // Client certificates are checked on handshakes of resumed sessions too.
  static const unsigned char kSessionContext[] = "cachewarden";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  auto accept_any = [](int, X509_STORE_CTX*) { return 1; };
  switch (t.client_auth) {
    case ClientAuth::kNoClientCert:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, accept_any);
      break;
    case ClientAuth::kRequireAnyClientCert:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::kRequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  return ctx;
}

WebConfig ReadWebConfig(ConfigReader& r) {
  WebConfig w;
  w.config_file = r.String("config_file", "");
  w.health_without_auth = r.Bool("health_without_auth", true);
  w.status_detail =
      r.Choice<StatusDetail>("status_detail", StatusDetail::kFull,
                             std::span<const EnumName<StatusDetail>>(kStatusDetailNames));
  w.max_connections = static_cast<int>(r.Int("max_connections", 512, 8, 65536));
  w.request_timeout = r.Dur("request_timeout", std::chrono::seconds(10),
                            std::chrono::milliseconds(100), std::chrono::minutes(10));
  r.Finish();
  if (w.config_file.empty()) return w;
  if (w.config_file[0] != '/') {
    r.Fail("config_file", fmt::format("expected an absolute path, got \"{}\"", w.config_file));
  }
  try {
    nlohmann::json doc = ParseJsonText(ReadConfigFile(w.config_file), w.config_file);
    if (!doc.is_object()) throw ConfigError("", "expected a JSON object");
    ReadWebFile(doc, w);
  } catch (const ConfigError& e) {
    r.Fail("config_file", fmt::format("{}: {}", w.config_file, e.what()));
  } catch (const std::exception& e) {
    r.Fail("config_file", fmt::format("{}: {}", w.config_file, e.what()));
  }
  return w;
}

bool VerifyPassword(const std::string& password, const std::string& hash) {
  crypt_data data;
  std::memset(&data, 0, sizeof data);
  const char* out = crypt_rn(password.c_str(), hash.c_str(), &data, sizeof data);
  // crypt_rn returns null (or a string starting with '*') on failure, never the hash.
  if (out == nullptr || out[0] == '*') return false;
  std::size_t n = std::strlen(out);
  return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

std::string StatusCounts(const std::string& json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return "{}\n";
  return DumpJson(Counts(doc, "", ""), 2) + "\n";
}

}  // namespace cachewarden
