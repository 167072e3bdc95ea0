// The real agent's endpoint under a web config file: the real Prometheus scraping it over mTLS
// with basic auth, certificate rotation on SIGHUP, a broken web config on reload, /status detail.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/agent.h"
#include "tests/support/certs.h"
#include "tests/support/http.h"
#include "tests/support/peers.h"

namespace cachewarden {
namespace {

using namespace testing;

std::string WebFile(const CertFiles& server, const CertFiles& ca, const std::string& hash) {
  return fmt::format(R"({{"tls_server_config": {{"cert_file": "{}", "key_file": "{}",
      "client_ca_file": "{}", "client_auth_type": "RequireAndVerifyClientCert"}},
      "basic_auth_users": {{"prom": "{}"}}}})",
                     server.cert, server.key, ca.cert, hash);
}

std::string AgentConfig(const TempDir& dir, const std::string& extra = "") {
  return fmt::format(R"({{"root": "{}", "web": {{"config_file": "{}"{}}},
      "probes": {{"volume": {{"interval": "200ms"}}}}}})",
                     dir.path(), dir / "web.json", extra);
}

// Prometheus's health of its one target ("up", "down", "unknown"), or "".
std::string TargetHealth(int port, std::string* error) {
  auto r = HttpGet(fmt::format("http://127.0.0.1:{}/api/v1/targets", port));
  if (r.code != 200) return "";
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (doc.is_discarded() || doc["data"]["activeTargets"].empty()) return "";
  *error = doc["data"]["activeTargets"][0].value("lastError", "");
  return doc["data"]["activeTargets"][0].value("health", "");
}

TEST_CASE(
    "Prometheus scrapes the agent over mTLS with basic auth: no certificate is refused, a "
    "wrong password is 401",
    "[e2e][prometheus][web]") {
  TempDir dir;
  CertFiles ca, server, client;
  REQUIRE(MakeCa(dir.path(), "ca", &ca) == "");
  REQUIRE(MakeSignedCert(dir.path(), "server", ca, &server) == "");
  REQUIRE(MakeSignedCert(dir.path(), "client", ca, &client) == "");
  WriteFile(dir / "web.json", WebFile(server, ca, BcryptHash("s3cret")));
  AgentUnderTest agent(dir.path(), AgentConfig(dir));
  std::string why;
  REQUIRE(agent.Start(&why));
  const std::string base = fmt::format("https://127.0.0.1:{}", agent.port());

  HttpClient good{ca.cert, client.cert, client.key, "prom:s3cret"};
  CHECK(HttpGet(base + "/metrics", good).code == 200);
  CHECK(HttpGet(base + "/metrics", {ca.cert, client.cert, client.key, "prom:wrong"}).code == 401);
  CHECK(HttpGet(base + "/metrics", {ca.cert, "", "", "prom:s3cret"}).code == 0);  // no cert
  CHECK(HttpGet(base + "/healthz", {ca.cert, client.cert, client.key, ""}).code == 200);
  CHECK(HttpGet(fmt::format("http://127.0.0.1:{}/healthz", agent.port())).code == 0);

  WriteFile(dir / "prometheus.yml", fmt::format(R"(global:
  scrape_interval: 1s
scrape_configs:
  - job_name: cachewarden
    scheme: https
    tls_config:
      ca_file: {}
      cert_file: {}
      key_file: {}
    basic_auth:
      username: prom
      password: s3cret
    static_configs:
      - targets: ["127.0.0.1:{}"]
)",
                                                ca.cert, client.cert, client.key, agent.port()));
  RunningPrometheus prometheus(dir.path());
  REQUIRE(prometheus.ready());
  const int port = prometheus.port();
  std::string error;
  bool up = WaitUntil([&] { return TargetHealth(port, &error) == "up"; }, std::chrono::seconds(30));
  INFO(error);
  INFO(agent.Stderr());
  CHECK(up);
  CHECK(error == "");
}

TEST_CASE(
    "SIGHUP picks up a rotated certificate, and a web config that no longer loads keeps the old "
    "one serving",
    "[e2e][web]") {
  TempDir dir;
  CertFiles ca, server, other_ca, other_server;
  REQUIRE(MakeCa(dir.path(), "ca", &ca) == "");
  REQUIRE(MakeSignedCert(dir.path(), "server", ca, &server) == "");
  REQUIRE(MakeCa(dir.path(), "other-ca", &other_ca) == "");
  REQUIRE(MakeSignedCert(dir.path(), "other-server", other_ca, &other_server) == "");
  CertFiles live{dir / "live.crt", dir / "live.key"};
  std::filesystem::copy_file(server.cert, live.cert);
  std::filesystem::copy_file(server.key, live.key);
  WriteFile(dir / "web.json", fmt::format(R"({{"tls_server_config": {{"cert_file": "{}",
      "key_file": "{}"}}}})",
                                          live.cert, live.key));
  AgentUnderTest agent(dir.path(), AgentConfig(dir));
  std::string why;
  REQUIRE(agent.Start(&why));
  const std::string healthz = fmt::format("https://127.0.0.1:{}/healthz", agent.port());
  CHECK(HttpGet(healthz, {ca.cert, "", "", ""}).code == 200);
  CHECK(HttpGet(healthz, {other_ca.cert, "", "", ""}).code == 0);

  // Rotation: the same paths, new contents, then SIGHUP.
  auto overwrite = std::filesystem::copy_options::overwrite_existing;
  std::filesystem::copy_file(other_server.cert, live.cert, overwrite);
  std::filesystem::copy_file(other_server.key, live.key, overwrite);
  agent.process().Signal(SIGHUP);
  CHECK(WaitUntil([&] { return HttpGet(healthz, {other_ca.cert, "", "", ""}).code == 200; }));
  CHECK(HttpGet(healthz, {ca.cert, "", "", ""}).code == 0);

  // A certificate that no longer loads: the reload is rejected naming the key, the old one serves.
  WriteFile(live.cert, "garbage\n");
  agent.process().Signal(SIGHUP);
  REQUIRE(WaitUntil(
      [&] { return agent.Stderr().find("config reload rejected") != std::string::npos; }));
  CHECK_THAT(agent.Stderr(), Catch::Contains("/web/config_file: " + (dir / "web.json") +
                                             ": /tls_server_config/cert_file: cannot load"));
  CHECK(HttpGet(healthz, {other_ca.cert, "", "", ""}).code == 200);
}

TEST_CASE("status_detail counts hides the details /status shows by default", "[e2e][web]") {
  for (const char* detail : {"full", "counts"}) {
    TempDir dir;
    WriteFile(dir / "web.json", "{}");
    AgentUnderTest agent(dir.path(),
                         AgentConfig(dir, fmt::format(R"(, "status_detail": "{}")", detail)));
    std::string why;
    REQUIRE(agent.Start(&why));
    auto r = HttpGet(agent.Url("/status"));
    REQUIRE(r.code == 200);
    auto j = nlohmann::json::parse(r.body);
    INFO(detail << ": " << r.body);
    CHECK(j["agent"]["uptime_seconds"].is_number());
    if (std::string(detail) == "full") {
      CHECK(j["agent"]["root"] == dir.path());
      CHECK_THAT(r.body, Catch::Contains(dir.path()));
    } else {
      CHECK_FALSE(j["agent"].contains("root"));
      CHECK_THAT(r.body, !Catch::Contains(dir.path()));
    }
  }
}

}  // namespace
}  // namespace cachewarden
