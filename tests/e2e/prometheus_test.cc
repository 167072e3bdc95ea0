// The real Debian Prometheus scraping the real agent and evaluating
// deploy/prometheus/cachewarden-rules.yml.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/agent.h"
#include "tests/support/http.h"
#include "tests/support/mounts.h"
#include "tests/support/peers.h"

namespace cachewarden {
namespace {

using namespace testing;

constexpr long long kMiB = 1024 * 1024;

// The state of the alert with these labels in Prometheus's /api/v1/alerts.
std::string PrometheusAlertState(int port, const std::string& alertname,
                                 const std::string& severity) {
  auto r = HttpGet(fmt::format("http://127.0.0.1:{}/api/v1/alerts", port));
  if (r.code != 200) return "";
  const nlohmann::json doc = nlohmann::json::parse(r.body);
  for (const auto& a : doc["data"]["alerts"]) {
    if (a["labels"].value("alertname", "") == alertname &&
        a["labels"].value("severity", "") == severity) {
      return a.value("state", "");
    }
  }
  return "";
}

TEST_CASE("Prometheus evaluating cachewarden-rules.yml fires on a full cache",
          "[e2e][prometheus]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::string cache = dir / "cache";
  std::filesystem::create_directories(cache);
  REQUIRE(MountTmpfs(cache, "64m") == "");
  REQUIRE(AllocateFile(cache + "/fill", 62 * kMiB));  // about 97% used

  AgentUnderTest agent(dir.path(), fmt::format(R"({{"root": "{}", "listen": "127.0.0.1:0",
      "probes": {{"volume": {{"interval": "200ms"}}}}}})",
                                               cache));
  std::string why;
  REQUIRE(agent.Start(&why));

  // A test-only copy of the rules: every `for` shortened to 1s so the test takes seconds, not
  // minutes. The expressions are the shipped ones.
  std::string rules = ReadFile(SourceDir() + "/deploy/prometheus/cachewarden-rules.yml");
  rules = std::regex_replace(rules, std::regex(R"(\n(\s+)for: \S+)"), "\n$1for: 1s");
  WriteFile(dir / "rules.yml", rules);
  WriteFile(dir / "prometheus.yml", fmt::format(R"(global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {}
scrape_configs:
  - job_name: cachewarden
    static_configs:
      - targets: ["127.0.0.1:{}"]
)",
                                                dir / "rules.yml", agent.port()));
  RunningPrometheus prometheus(dir.path());
  REQUIRE(prometheus.ready());
  const int port = prometheus.port();
  bool fired = WaitUntil(
      [&] { return PrometheusAlertState(port, "CacheDiskAlmostFull", "critical") == "firing"; },
      std::chrono::seconds(30));
  INFO(prometheus.Stderr());
  INFO(HttpGet(fmt::format("http://127.0.0.1:{}/api/v1/alerts", port)).body);
  INFO(HttpGet(fmt::format("http://127.0.0.1:{}/api/v1/targets", port)).body);
  CHECK(fired);
  CHECK(PrometheusAlertState(port, "CachewardenDown", "warning") == "");
  CHECK(PrometheusAlertState(port, "CacheInodesAlmostFull", "critical") == "");
}

}  // namespace
}  // namespace cachewarden
