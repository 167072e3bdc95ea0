#include "agent/web_config.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "agent/config.h"
#include "base/json_text.h"
#include "tests/support/certs.h"
#include "tests/support/config_errors.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::CertFiles;
using testing::TempDir;

Config Load(const std::string& text) { return LoadConfigText(text, "test.json", {}); }

std::string ErrorOf(const std::string& text) {
  return testing::ConfigErrorOf([&] { Load(text); });
}

// A config whose web.config_file is `dir`/web.json holding `web_json`.
std::string WithWebFile(const TempDir& dir, const std::string& web_json,
                        const std::string& extra = "") {
  testing::WriteFile(dir / "web.json", web_json);
  return fmt::format(R"({{"web": {{"config_file": "{}"{}}}}})", dir / "web.json", extra);
}

TEST_CASE("web defaults: no TLS, no auth, health open, full status, bounded connections",
          "[config][web]") {
  Config c = Load("{}");
  CHECK(c.web == WebConfig{});
  CHECK_FALSE(c.web.tls);
  CHECK(c.web.basic_auth_users.empty());
  CHECK(c.web.health_without_auth);
  CHECK(c.web.status_detail == StatusDetail::kFull);
  CHECK(c.web.max_connections == 512);
  CHECK(c.web.request_timeout == std::chrono::seconds(10));
  CHECK(c.effective["web"]["status_detail"] == "full");
  CHECK(Load(R"({"web": {"status_detail": "counts"}})").web.status_detail == StatusDetail::kCounts);
}

TEST_CASE("web config file in the exporter-toolkit's keys is read, certificates loaded",
          "[config][web]") {
  TempDir dir;
  CertFiles ca, server;
  REQUIRE(testing::MakeCa(dir.path(), "ca", &ca) == "");
  REQUIRE(testing::MakeSignedCert(dir.path(), "server", ca, &server) == "");
  std::string hash = testing::BcryptHash("pw");
  Config c = Load(WithWebFile(dir, fmt::format(R"({{"tls_server_config": {{"cert_file": "{}",
      "key_file": "{}", "client_ca_file": "{}", "client_auth_type": "VerifyClientCertIfGiven",
      "min_version": "TLS13"}}, "basic_auth_users": {{"prom": "{}"}}}})",
                                               server.cert, server.key, ca.cert, hash)));
  REQUIRE(c.web.tls);
  CHECK(c.web.tls->cert_file == server.cert);
  CHECK(c.web.tls->client_auth == ClientAuth::kVerifyClientCertIfGiven);
  CHECK(c.web.tls->min_version == TlsVersion::kTls13);
  CHECK(c.web.basic_auth_users.at("prom") == hash);
  CHECK(VerifyPassword("pw", hash));
  CHECK_FALSE(VerifyPassword("pW", hash));

  // A CA without a policy verifies against it rather than being silently unused.
  Config ca_only = Load(WithWebFile(dir, fmt::format(R"({{"tls_server_config": {{"cert_file": "{}",
      "key_file": "{}", "client_ca_file": "{}"}}}})",
                                                     server.cert, server.key, ca.cert)));
  CHECK(ca_only.web.tls->client_auth == ClientAuth::kRequireAndVerifyClientCert);
}

TEST_CASE("a bad web config is a config error naming the key", "[config][web]") {
  TempDir dir;
  CertFiles ca, server;
  REQUIRE(testing::MakeCa(dir.path(), "ca", &ca) == "");
  REQUIRE(testing::MakeSignedCert(dir.path(), "server", ca, &server) == "");
  const std::string file = dir / "web.json";
  auto tls = [&](const std::string& more) {
    return WithWebFile(dir, fmt::format(R"({{"tls_server_config": {{"cert_file": "{}",
        "key_file": "{}"{}}}}})",
                                        server.cert, server.key, more));
  };
  CHECK_THAT(ErrorOf(R"({"web": {"config_file": "/nonexistent/web.json"}})"),
             Catch::StartsWith("/web/config_file: /nonexistent/web.json: "));
  CHECK_THAT(ErrorOf(R"({"web": {"config_file": "web.json"}})"),
             Catch::StartsWith("/web/config_file: expected an absolute path"));
  CHECK_THAT(ErrorOf(R"({"web": {"status_detail": "some"}})"),
             Catch::StartsWith("/web/status_detail: "));
  CHECK_THAT(ErrorOf(R"({"web": {"tls": {}}})"), Catch::StartsWith("/web/tls: unknown key"));
  CHECK_THAT(
      ErrorOf(tls(R"(, "client_auth_type": "Sometimes")")),
      Catch::StartsWith("/web/config_file: " + file + ": /tls_server_config/client_auth_type: "));
  CHECK_THAT(ErrorOf(tls(R"(, "min_version": "TLS11")")),
             Catch::StartsWith("/web/config_file: " + file + ": /tls_server_config/min_version: "));
  CHECK_THAT(ErrorOf(tls(R"(, "client_auth_type": "RequireAndVerifyClientCert")")),
             Catch::StartsWith("/web/config_file: " + file +
                               ": /tls_server_config/client_ca_file: required by client_auth_type "
                               "\"RequireAndVerifyClientCert\""));
  CHECK_THAT(ErrorOf(tls(R"(, "cipher_suites": ["x"])")),
             Catch::StartsWith("/web/config_file: " + file +
                               ": /tls_server_config/cipher_suites: unknown key"));
  CHECK_THAT(ErrorOf(WithWebFile(dir, fmt::format(R"({{"tls_server_config": {{"cert_file": "{}",
      "key_file": "{}"}}}})",
                                                  server.cert, ca.key))),
             Catch::StartsWith("/web/config_file: " + file +
                               ": /tls_server_config/key_file: cannot load the key") &&
                 Catch::Contains("key values mismatch"));
  testing::WriteFile(dir / "broken.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n");
  CHECK_THAT(ErrorOf(WithWebFile(dir, fmt::format(R"({{"tls_server_config": {{"cert_file": "{}",
      "key_file": "{}"}}}})",
                                                  dir / "broken.crt", server.key))),
             Catch::StartsWith("/web/config_file: " + file +
                               ": /tls_server_config/cert_file: cannot load the certificate"));
  CHECK_THAT(ErrorOf(WithWebFile(dir, R"({"basic_auth_users": {"prom": "plaintext"}})")),
             Catch::StartsWith("/web/config_file: " + file +
                               ": /basic_auth_users/prom: expected a bcrypt hash"));
  CHECK_THAT(ErrorOf(WithWebFile(dir, R"({"basic_auth_users": {"prom": 1}})")),
             Catch::StartsWith("/web/config_file: " + file + ": /basic_auth_users"));
  CHECK_THAT(
      ErrorOf(WithWebFile(dir, R"({"http_server_config": {"http2": false}})")),
      Catch::StartsWith("/web/config_file: " + file + ": /http_server_config: not supported"));
  CHECK_THAT(
      ErrorOf(WithWebFile(dir, R"({"tls_server_config": {"cert_file": "/x"}})")),
      Catch::StartsWith("/web/config_file: " + file + ": /tls_server_config/key_file: required"));
  CHECK_THAT(ErrorOf(WithWebFile(dir, "[1]")),
             Catch::StartsWith("/web/config_file: " + file + ": expected a JSON object"));
}

TEST_CASE("StatusCounts keeps numbers, booleans, status and reason, counts lists",
          "[config][web]") {
  auto j = nlohmann::json::parse(StatusCounts(
      R"({"a": {"status": "ok", "n": 3, "b": true, "list": [1, 2, 3], "cmd": "x", "z": null}})"));
  CHECK(j == nlohmann::json::parse(
                 R"({"a": {"status": "ok", "n": 3, "b": true, "list": 3, "z": null}})"));
  CHECK(StatusCounts("not json") == "{}\n");
}

TEST_CASE("StatusCounts counts a bounded list whole: what /status showed plus what it omitted",
          "[config][web]") {
  nlohmann::json status = {{"scan", {{"dind_entries", nlohmann::json::array()}}}};
  for (int i = 0; i < 120; ++i) status["scan"]["dind_entries"].push_back({{"name", "e"}});
  BoundArrays(status, 50);
  auto j = nlohmann::json::parse(StatusCounts(status.dump()));
  CHECK(j == nlohmann::json::parse(R"({"scan": {"dind_entries": 120}})"));
}

}  // namespace
}  // namespace cachewarden
