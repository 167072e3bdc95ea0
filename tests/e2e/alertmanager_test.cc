// The real agent pushing to the real Debian Alertmanager on loopback.
#include <fmt/format.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/agent.h"
#include "tests/support/http.h"
#include "tests/support/mounts.h"
#include "tests/support/peers.h"

namespace cachewarden {
namespace {

using namespace testing;
using std::chrono::seconds;

constexpr long long kMiB = 1024 * 1024;

class Alertmanager {
 public:
  Alertmanager(const std::string& dir, int port) : dir_(dir), port_(port) {
    std::filesystem::create_directories(dir_ + "/data");
    WriteFile(dir_ + "/alertmanager.yml",
              "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n");
  }
  void Start() {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            "/usr/bin/prometheus-alertmanager", "--config.file=" + dir_ + "/alertmanager.yml",
            "--storage.path=" + dir_ + "/data",
            fmt::format("--web.listen-address=127.0.0.1:{}", port_), "--cluster.listen-address="},
        dir_);
    REQUIRE(WaitUntil([&] { return HttpGet(Url("/-/ready")).code == 200; }));
  }
  void Stop() {
    process_->Signal(SIGTERM);
    int code = 0;
    REQUIRE(process_->WaitExit(std::chrono::seconds(10), &code));
  }
  std::string Url(const std::string& path) const {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }
  // The state ("active", ...) of the alert with these labels, or "".
  std::string StateOf(const std::string& alertname, const std::string& severity) const {
    auto r = HttpGet(Url("/api/v2/alerts"));
    if (r.code != 200) return "";
    for (const auto& a : nlohmann::json::parse(r.body)) {
      const auto& l = a["labels"];
      if (l.value("alertname", "") == alertname && l.value("severity", "") == severity) {
        // Alertmanager keeps a resolved alert until it is garbage-collected.
        if (a["status"]["state"] == "active" && a.value("endsAt", "") > Now()) return "active";
        return "resolved";
      }
    }
    return "";
  }

 private:
  static std::string Now() {
    auto t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  std::string dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

TEST_CASE("a full cache raises an alert in Alertmanager, which resolves when space is freed",
          "[e2e][alerts]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::string cache = dir / "cache";
  std::filesystem::create_directories(cache);
  REQUIRE(MountTmpfs(cache, "64m") == "");
  // An HA pair: the agent sends every alert to both (unclustered here; in production they gossip
  // and deduplicate notifications).
  int am_port = FreeLoopbackPort();
  Alertmanager am(dir / "am", am_port);
  am.Start();
  int am2_port = FreeLoopbackPort();
  Alertmanager am2(dir / "am2", am2_port);
  am2.Start();

  AgentUnderTest agent(dir.path(), fmt::format(R"({{
    "root": "{}", "listen": "127.0.0.1:0",
    "probes": {{"volume": {{"interval": "200ms"}}}},
    "alerts": {{
      "evaluation_interval": "200ms",
      "rules": {{"CacheDiskAlmostFull": {{"for": "0s", "keep_firing_for": "0s"}}}},
      "alertmanager": {{"urls": ["http://127.0.0.1:{}", "http://127.0.0.1:{}"], "resend_interval": "1s",
                        "resolve_resend_for": "10s", "max_backoff": "500ms", "timeout": "1s",
                        "external_labels": {{"cluster": "e2e"}}}}
    }}}})",
                                               cache, am_port, am2_port));
  std::string why;
  REQUIRE(agent.Start(&why));

  // 62 of 64 MiB: about 97% used.
  REQUIRE(AllocateFile(cache + "/fill", 62 * kMiB));
  CHECK(WaitUntil([&] { return am.StateOf("CacheDiskAlmostFull", "critical") == "active"; }));
  CHECK(WaitUntil([&] { return am2.StateOf("CacheDiskAlmostFull", "critical") == "active"; }));
  auto alerts = nlohmann::json::parse(HttpGet(am.Url("/api/v2/alerts")).body);
  nlohmann::json a;
  for (const auto& x : alerts) {
    if (x["labels"]["alertname"] == "CacheDiskAlmostFull" && x["labels"]["severity"] == "critical")
      a = x;
  }
  REQUIRE_FALSE(a.is_null());
  CHECK(a["labels"]["cluster"] == "e2e");
  CHECK(a["labels"].contains("instance"));
  CHECK(a["annotations"]["summary"].get<std::string>().find(cache) != std::string::npos);
  // The agent's own /status, on the port it really listens on (the config says
  // 0).
  CHECK_THAT(a["generatorURL"].get<std::string>(),
             Catch::EndsWith(fmt::format(":{}/status", agent.port())));
  CHECK(agent.Metric(
            R"(cachewarden_alert_firing{alertname="CacheDiskAlmostFull",severity="critical"})") ==
        1);
  CHECK(agent.Metric(
            R"(cachewarden_alert_pending{alertname="CacheDiskAlmostFull",severity="critical"})") ==
        0);
  CHECK(
      agent.Metric(
          R"(cachewarden_alert_firing_since_timestamp_seconds{alertname="CacheDiskAlmostFull"})") >
      1.7e9);
  CHECK(agent.Metric(
            R"(cachewarden_alert_firing{alertname="CacheInodesAlmostFull",severity="critical"})") ==
        0);
  CHECK(
      agent.Metric(
          R"(cachewarden_alert_pending{alertname="CacheInodesAlmostFull",severity="critical"})") ==
      0);
  auto status = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
  CHECK(status["alerts"].size() >= 1);

  std::filesystem::remove(cache + "/fill");
  CHECK(WaitUntil([&] { return am.StateOf("CacheDiskAlmostFull", "critical") != "active"; }));
  CHECK(WaitUntil([&] { return am2.StateOf("CacheDiskAlmostFull", "critical") != "active"; }));
  CHECK(agent.Metric(
            R"(cachewarden_alert_firing{alertname="CacheDiskAlmostFull",severity="critical"})") ==
        0);

  // With one Alertmanager gone, the agent keeps working, counts failures, and the other still gets
  // the alert.
  am.Stop();
  REQUIRE(AllocateFile(cache + "/fill", 62 * kMiB));
  const std::string failures =
      R"(cachewarden_notifications_total{notifier="alertmanager",result="failure"})";
  CHECK(WaitUntil([&] { return agent.Metric(failures) >= 2; }));
  CHECK(WaitUntil([&] { return am2.StateOf("CacheDiskAlmostFull", "critical") == "active"; }));
  CHECK(HttpGet(agent.Url("/healthz")).code == 200);
  CHECK(agent.Metric(
            R"(cachewarden_alert_firing{alertname="CacheDiskAlmostFull",severity="critical"})") ==
        1);

  // Back up: the alert arrives.
  am.Start();
  CHECK(WaitUntil([&] { return am.StateOf("CacheDiskAlmostFull", "critical") == "active"; }));
  CHECK(agent.process().Running());
  agent.process().Signal(SIGTERM);
  int code = -1;
  CHECK(agent.process().WaitExit(seconds(5), &code));
  CHECK(code == 0);
  INFO(agent.process().Stderr());
  CHECK(agent.process().Stderr().find("alert state changed") != std::string::npos);
}

}  // namespace
}  // namespace cachewarden
