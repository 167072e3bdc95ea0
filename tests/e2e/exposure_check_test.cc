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
// With `proc_root`, buildkitd is looked for there (a fixture /proc); without, nowhere.
Check RunCheck(const TempDir& dir, nlohmann::json exposure, const std::string& proc_root = "") {
  std::filesystem::create_directories(dir / "cache");
  exposure["enabled"] = true;
  if (proc_root.empty()) exposure["process"] = "no-such-process";
  nlohmann::json config = {{"root", dir / "cache"},
                           {"probes",
                            {{"exposure", exposure},
                             {"volume", {{"enabled", false}}},
                             {"scan", {{"enabled", false}}},
                             {"mounts", {{"enabled", false}}},
                             {"dind", {{"enabled", false}}},
                             {"latency", {{"enabled", false}}},
                             {"diskstats", {{"enabled", false}}},
                             {"logs", {{"enabled", false}}}}}};
  if (!proc_root.empty()) config["proc_root"] = proc_root;
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

// buildkitd in another container, as the agent's /proc shows it: its comm, its command line and
// its root. A fixture directory: this machine cannot give a test a second container's
// /proc/<pid>/root. The servers its flags and config name are real, on loopback.
std::string FakeBuildkitdProc(const TempDir& dir, const std::string& cmdline) {
  const std::string pid_dir = dir / "proc/4242";
  std::filesystem::create_directories(pid_dir + "/root/etc");
  testing::WriteFile(pid_dir + "/comm", "buildkitd\n");
  testing::WriteFile(pid_dir + "/cmdline", cmdline);
  return dir / "proc";
}

TEST_CASE("check: a plaintext port only buildkitd's --addr names is found and CRITICAL",
          "[exposure][e2e][discovery]") {
  using namespace std::string_literals;
  TempDir dir;
  testing::H2cGrpcServer server;
  REQUIRE(server.port() > 0);
  const std::string proc = FakeBuildkitdProc(
      dir, "buildkitd\0--addr\0unix:///run/buildkit/buildkitd.sock\0--addr\0tcp://0.0.0.0:"s +
               std::to_string(server.port()) + "\0"s);
  // The configured address is not where buildkitd listens: without discovery nothing is found.
  const Check c = RunCheck(dir, {{"address", {"tcp://127.0.0.1:1"}}}, proc);
  INFO(c.text);
  CHECK(c.exit_code == 2);
  const auto f = c.Finding("BuildkitPlaintextTCP");
  REQUIRE(f != nullptr);
  CHECK(f["severity"] == "critical");
  CHECK_THAT(f.dump(),
             Catch::Contains(server.address()) && Catch::Contains("BUILDKIT_TLS_ENABLED=true"));
  const Check off = RunCheck(dir, {{"address", {"tcp://127.0.0.1:1"}}, {"discover", false}}, proc);
  CHECK(off.Finding("BuildkitPlaintextTCP")["severity"] != "critical");
}

TEST_CASE(
    "check: a certificate renewed in buildkitd's root but not served is found through its "
    "buildkitd.toml",
    "[exposure][e2e][discovery]") {
  using namespace std::string_literals;
  TempDir dir;
  testing::CertFiles ca, served, renewed;
  REQUIRE(testing::MakeCa(dir.path(), "ca", &ca).empty());
  REQUIRE(testing::MakeSignedCert(dir.path(), "server", ca, &served, 90).empty());
  REQUIRE(testing::MakeSignedCert(dir.path(), "renewed", ca, &renewed, 90).empty());
  std::filesystem::create_directories(dir / "s");
  testing::OpenSslServer server(dir / "s", served.cert, served.key,
                                {"-Verify", "1", "-CAfile", ca.cert});
  REQUIRE(server.ready());
  const std::string proc = FakeBuildkitdProc(dir, "buildkitd\0--config=/etc/buildkitd.toml\0"s);
  const std::string root = proc + "/4242/root";
  testing::WriteFile(root + "/etc/buildkitd.toml",
                     "[grpc]\naddress = [\"tcp://0.0.0.0:" + std::to_string(server.port()) +
                         "\"]\n[grpc.tls]\ncert = \"/etc/cert.pem\"\nkey = \"/etc/key.pem\"\n"
                         "ca = \"/etc/ca.pem\"\n");
  testing::WriteFile(root + "/etc/cert.pem", testing::ReadFile(renewed.cert));
  testing::WriteFile(root + "/etc/ca.pem", testing::ReadFile(ca.cert));
  // Renewed two days ago: past the rule's one-hour grace.
  std::filesystem::last_write_time(
      root + "/etc/cert.pem",
      std::filesystem::file_time_type::clock::now() - std::chrono::hours(48));
  const Check c = RunCheck(dir, {{"address", {"tcp://127.0.0.1:1"}}}, proc);
  INFO(c.text);
  const auto f = c.Finding("BuildkitCertNotReloaded");
  REQUIRE(f != nullptr);
  CHECK(f["severity"] == "warning");
  CHECK_THAT(f.dump(), Catch::Contains("/etc/cert.pem") &&
                           Catch::Contains("restart buildkitd", Catch::CaseSensitive::No));
  CHECK(c.Finding("BuildkitNoClientAuth")["severity"] == "ok");  // -Verify 1: mTLS
}

}  // namespace
}  // namespace cachewarden
