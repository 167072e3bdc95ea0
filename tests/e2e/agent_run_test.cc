// The real binary, end to end: `cachewarden run` with its cache root on a 64 MiB tmpfs mounted in
// the test's private mount namespace.
#include <fmt/format.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/agent.h"
#include "tests/support/http.h"
#include "tests/support/mounts.h"

namespace cachewarden::testing {
namespace {

std::string ConfigFor(const std::string& root, const std::string& interval) {
  return fmt::format(R"({{"root": "{}", "log": {{"level": "debug"}},
                          "probes": {{"volume": {{"interval": "{}"}}}}}})",
                     root, interval);
}

// The agent on a fresh 64 MiB tmpfs cache under `dir`, once /readyz says 200.
std::unique_ptr<AgentUnderTest> ReadyAgentOnTmpfs(const TempDir& dir) {
  std::filesystem::create_directory(dir / "cache");
  REQUIRE(MountTmpfs(dir / "cache", "64m") == "");
  auto agent = std::make_unique<AgentUnderTest>(dir.path(), ConfigFor(dir / "cache", "200ms"));
  std::string why;
  REQUIRE(agent->Start(&why));
  REQUIRE(WaitUntil([&] { return HttpGet(agent->Url("/readyz")).code == 200; }));
  return agent;
}

TEST_CASE("run serves metrics and health and readiness and status for a tmpfs cache", "[e2e]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  auto started = ReadyAgentOnTmpfs(dir);
  AgentUnderTest& agent = *started;
  auto metrics = HttpGet(agent.Url("/metrics"));
  REQUIRE(metrics.code == 200);
  CHECK(MetricValue(metrics.body, "cachewarden_volume_size_bytes") == 64.0 * 1024 * 1024);
  CHECK(MetricValue(metrics.body, "cachewarden_probe_success{probe=\"volume\"}") == 1);
  CHECK(MetricValue(metrics.body, "cachewarden_config_last_reload_successful") == 1);
  CHECK(MetricValue(metrics.body, "cachewarden_volume_readonly") == 0);
  bool promtool_ok = false;
  std::string lint = PromtoolCheckMetrics(metrics.body, &promtool_ok);
  INFO(lint);
  CHECK(promtool_ok);
  CHECK(lint.empty());

  CHECK(HttpGet(agent.Url("/healthz")).code == 200);
  auto status = HttpGet(agent.Url("/status"));
  REQUIRE(status.code == 200);
  auto j = nlohmann::json::parse(status.body);
  CHECK(j["probes"]["volume"]["status"] == "ok");
  CHECK(j["probes"]["volume"]["data"]["size_bytes"] == 64 * 1024 * 1024);
  CHECK(j["agent"]["root"] == dir / "cache");
  CHECK(HttpGet(agent.Url("/nonexistent")).code == 404);

  int code = -1;
  auto t0 = std::chrono::steady_clock::now();
  agent.process().Signal(SIGTERM);
  REQUIRE(agent.process().WaitExit(std::chrono::seconds(2), &code));
  CHECK(code == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK_THAT(agent.Stderr(), Catch::Contains("\"msg\":\"stopped\""));
}

TEST_CASE("SIGHUP with a broken config keeps the old one serving", "[e2e]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  auto started = ReadyAgentOnTmpfs(dir);
  AgentUnderTest& agent = *started;

  WriteFile(agent.config_path(), R"({"probes": {"volume": {"intervall": "1s"}}})");
  agent.process().Signal(SIGHUP);
  REQUIRE(
      WaitUntil([&] { return agent.Metric("cachewarden_config_last_reload_successful") == 0; }));
  // The metric drops before the line is written: wait for the line itself.
  REQUIRE(WaitUntil(
      [&] { return agent.Stderr().find("config reload rejected") != std::string::npos; }));
  CHECK_THAT(agent.Stderr(), Catch::Contains("/probes/volume/intervall: unknown key"));
  // Still serving, still on the old config (the tmpfs root).
  CHECK(agent.Metric("cachewarden_volume_size_bytes") == 64.0 * 1024 * 1024);
  CHECK(HttpGet(agent.Url("/healthz")).code == 200);

  // A good config afterwards is taken, and the metric goes back to 1.
  WriteFile(agent.config_path(), ConfigFor(dir / "cache", "300ms"));
  agent.process().Signal(SIGHUP);
  REQUIRE(
      WaitUntil([&] { return agent.Metric("cachewarden_config_last_reload_successful") == 1; }));

  int code = -1;
  agent.process().Signal(SIGTERM);
  REQUIRE(agent.process().WaitExit(std::chrono::seconds(2), &code));
  CHECK(code == 0);
}

TEST_CASE("a missing cache root is a probe failure with a reason and not a crash", "[e2e]") {
  TempDir dir;
  AgentUnderTest agent(dir.path(), ConfigFor(dir / "does-not-exist/x", "200ms"));
  std::string why;
  REQUIRE(agent.Start(&why));
  REQUIRE(WaitUntil([&] { return HttpGet(agent.Url("/readyz")).code == 200; }));
  CHECK(agent.Metric("cachewarden_probe_success{probe=\"volume\"}") == 0);
  auto j = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
  CHECK(j["probes"]["volume"]["reason"] == "missing");
  CHECK_THAT(j["probes"]["volume"]["error"].get<std::string>(),
             Catch::Contains("No such file or directory"));
  int code = -1;
  agent.process().Signal(SIGINT);
  REQUIRE(agent.process().WaitExit(std::chrono::seconds(2), &code));
  CHECK(code == 0);
}

}  // namespace
}  // namespace cachewarden::testing
