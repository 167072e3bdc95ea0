// The real binary's `check` with the exposure probe on, against real peers on loopback: an open
// BuildKit door (plaintext h2c, TLS without mTLS, a certificate about to expire) is CRITICAL and
// names its fix; a locked one (mTLS, a fresh certificate) is not.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/certs.h"
#include "tests/support/process.h"
#include "tests/support/tls_peers.h"

namespace cachewarden {
namespace {

using testing::TempDir;

struct Check {
  int exit_code = -1;
  std::string text;  // the human report
  nlohmann::json report;
  // The finding whose source starts with `rule`, or null.
  nlohmann::json Finding(const std::string& rule) const {
    for (const auto& f : report["findings"]) {
      if (f["source"].get<std::string>().starts_with(rule)) return f;
    }
    return nullptr;
  }
};

// `check` (text, then --json) on a plain cache directory with only the exposure probe's verdicts in
// question (the probes that judge the cache's disk are off: their verdicts have their own tests).
Check RunCheck(const TempDir& dir, nlohmann::json exposure) {
  std::filesystem::create_directories(dir / "cache");
  exposure["enabled"] = true;
  exposure["process"] = "no-such-process";
  const nlohmann::json config = {{"root", dir / "cache"},
                                 {"probes",
                                  {{"exposure", exposure},
                                   {"volume", {{"enabled", false}}},
                                   {"scan", {{"enabled", false}}},
                                   {"mounts", {{"enabled", false}}},
                                   {"dind", {{"enabled", false}}},
                                   {"latency", {{"enabled", false}}},
                                   {"diskstats", {{"enabled", false}}},
                                   {"logs", {{"enabled", false}}}}}};
  testing::WriteFile(dir / "config.json", config.dump());
  Check c;
  auto text =
      testing::RunProcess({testing::BinaryPath(), "check", "--config", dir / "config.json"});
  c.text = text.out;
  c.exit_code = text.exit_code;
  auto json = testing::RunProcess(
      {testing::BinaryPath(), "check", "--json", "--config", dir / "config.json"});
  INFO(json.err);
  c.report = nlohmann::json::parse(json.out);
  return c;
}

TEST_CASE("check: a plaintext BuildKit TCP port is CRITICAL, and the fix is BUILDKIT_TLS_ENABLED",
          "[exposure][e2e]") {
  TempDir dir;
  testing::H2cGrpcServer server;
  REQUIRE(server.port() > 0);
  const Check c = RunCheck(dir, {{"address", {server.address()}}});
  INFO(c.text);
  CHECK(c.exit_code == 2);
  CHECK_THAT(c.text, Catch::StartsWith("CACHEWARDEN CRITICAL - ") &&
                         Catch::Contains("plaintext gRPC") &&
                         Catch::Contains("BUILDKIT_TLS_ENABLED=true"));
  const auto f = c.Finding("BuildkitPlaintextTCP");
  REQUIRE(f != nullptr);
  CHECK(f["severity"] == "critical");
  CHECK_THAT(f.dump(),
             Catch::Contains(server.address()) && Catch::Contains("mount the certificates"));
}

TEST_CASE(
    "check: TLS without client certificates and a certificate expiring in 2 days are "
    "CRITICAL",
    "[exposure][e2e]") {
  TempDir dir;
  testing::CertFiles ca, cert;
  REQUIRE(testing::MakeCa(dir.path(), "ca", &ca).empty());
  REQUIRE(testing::MakeSignedCert(dir.path(), "server", ca, &cert, 2).empty());
  std::filesystem::create_directories(dir / "s");
  testing::OpenSslServer server(dir / "s", cert.cert, cert.key);
  REQUIRE(server.ready());
  const Check c = RunCheck(dir, {{"address", {server.address()}}});
  INFO(c.text);
  CHECK(c.exit_code == 2);
  const auto open = c.Finding("BuildkitNoClientAuth");
  REQUIRE(open != nullptr);
  CHECK(open["severity"] == "critical");
  CHECK_THAT(open.dump(), Catch::Contains("--tlscacert"));
  const auto expiring = c.Finding("BuildkitCertExpiring");
  REQUIRE(expiring != nullptr);
  CHECK(expiring["severity"] == "critical");
  CHECK_THAT(expiring.dump(), Catch::Contains("restart buildkitd"));
  CHECK(c.Finding("BuildkitPlaintextTCP")["severity"] == "ok");
}

TEST_CASE("check: mTLS with a fresh certificate leaves the door findings ok", "[exposure][e2e]") {
  TempDir dir;
  testing::CertFiles ca, cert;
  REQUIRE(testing::MakeCa(dir.path(), "ca", &ca).empty());
  REQUIRE(testing::MakeSignedCert(dir.path(), "server", ca, &cert, 90).empty());
  std::filesystem::create_directories(dir / "s");
  testing::OpenSslServer server(dir / "s", cert.cert, cert.key,
                                {"-Verify", "1", "-CAfile", ca.cert});
  REQUIRE(server.ready());
  const Check c = RunCheck(dir, {{"address", {server.address()}}, {"cert_file", cert.cert}});
  INFO(c.text);
  for (const char* rule : {"BuildkitPlaintextTCP", "BuildkitNoClientAuth", "BuildkitCertExpiring",
                           "BuildkitCertNotReloaded"}) {
    INFO(rule);
    const auto f = c.Finding(rule);
    REQUIRE(f != nullptr);
    CHECK(f["severity"] == "ok");
  }
  CHECK(c.exit_code == 0);
}

}  // namespace
}  // namespace cachewarden
