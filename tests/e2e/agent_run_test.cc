// The real binary, end to end: `cachewarden run` with its cache root on a 64 MiB tmpfs mounted in
// the test's private mount namespace.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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

// The agent's JSON log lines whose msg is `msg`, in order.
std::vector<nlohmann::json> LogLines(const std::string& stderr_text, const std::string& msg) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(stderr_text);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("msg", "") == msg) out.push_back(std::move(j));
  }
  return out;
}

TEST_CASE("SIGHUP with a hostile config keeps the old one serving", "[e2e]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  auto started = ReadyAgentOnTmpfs(dir);
  AgentUnderTest& agent = *started;

  // Each of these used to kill the daemon on reload (an uncaught out_of_range, a stack overflow)
  // or be taken silently (the duplicate key).
  const std::vector<std::pair<std::string, std::string>> hostile = {
      {R"({"probes": {"volume": {"interval": 1e400}}})", "number overflow"},
      {std::string(100000, '[') + std::string(100000, ']'), "nesting deeper than 64 levels"},
      {R"({"root": "/", "root": "/tmp"})", "/root: duplicate key"},
  };
  int rejected = 0;
  for (const auto& [text, message] : hostile) {
    INFO(message);
    WriteFile(agent.config_path(), text);
    agent.process().Signal(SIGHUP);
    ++rejected;
    REQUIRE(WaitUntil([&] {
      return static_cast<int>(LogLines(agent.Stderr(),
                                       "config reload rejected; the previous config stays in force")
                                  .size()) == rejected;
    }));
    CHECK_THAT(agent.Stderr(), Catch::Contains(message));
    CHECK(agent.Metric("cachewarden_config_last_reload_successful") == 0);
    // Still serving, still on the old config (the tmpfs root).
    CHECK(agent.Metric("cachewarden_volume_size_bytes") == 64.0 * 1024 * 1024);
    CHECK(HttpGet(agent.Url("/healthz")).code == 200);
  }

  int code = -1;
  agent.process().Signal(SIGTERM);
  REQUIRE(agent.process().WaitExit(std::chrono::seconds(2), &code));
  CHECK(code == 0);
}

void AppendLines(const std::string& path, const std::string& line, int n) {
  std::ofstream out(path, std::ios::app);
  for (int i = 0; i < n; ++i) out << line << "\n";
}

// A config whose volume and logs sections are those given; `threshold` is an alert's, unrelated to
// both probes, and so is the scan interval.
std::string ReloadConfig(const TempDir& dir, const std::string& volume_interval, int min_samples,
                         int recent_events, int threshold, const std::string& scan_interval) {
  nlohmann::json c = {
      {"root", dir / "cache"},
      {"probes",
       {{"volume",
         {{"interval", volume_interval},
          {"growth_min_samples", min_samples},
          {"growth_min_span", "0s"}}},
        {"logs",
         {{"interval", "100ms"},
          {"recent_events", recent_events},
          {"files", {{{"path", dir / "buildkitd.log"}}}}}},
        {"scan", {{"interval", scan_interval}}}}},
      {"alerts", {{"rules", {{"CacheDiskAlmostFull", {{"warning_percent", threshold}}}}}}}};
  return c.dump();
}

TEST_CASE("a reload keeps the state of unchanged probes and starts changed ones fresh", "[e2e]") {
  TempDir dir;
  std::filesystem::create_directory(dir / "cache");
  WriteFile(dir / "buildkitd.log", "");  // followed from its end, as a running buildkitd's is
  AgentUnderTest agent(dir.path(), ReloadConfig(dir, "100ms", 5, 20, 85, "1m"));
  std::string why;
  REQUIRE(agent.Start(&why));
  // Ready: every probe has run once, so the log follower sits at the end of the empty file.
  REQUIRE(WaitUntil([&] { return HttpGet(agent.Url("/readyz")).code == 200; }));
  const std::string log = dir / "buildkitd.log";
  const std::string gc_errors = R"(cachewarden_log_events_total{kind="gc_error"})";
  const std::string gc_error_line = R"(time="2024-01-10T14:00:00Z" level=error msg="gc error: x")";
  AppendLines(log, gc_error_line, 3);
  REQUIRE(WaitUntil([&] { return agent.Metric(gc_errors) == 3; }));
  auto samples = [&] {
    auto j = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
    return j["probes"]["volume"]["data"]["bytes_growth"]["samples"].get<int>();
  };
  const std::string predicted = "cachewarden_volume_predicted_full_seconds";
  REQUIRE(WaitUntil([&] { return samples() >= 10; }));
  REQUIRE_FALSE(std::isnan(agent.Metric(predicted)));
  const int samples_before = samples();

  // Unrelated: an alert threshold and the scan's interval.
  WriteFile(agent.config_path(), ReloadConfig(dir, "100ms", 5, 20, 90, "2m"));
  agent.process().Signal(SIGHUP);
  REQUIRE(WaitUntil([&] { return LogLines(agent.Stderr(), "config reloaded").size() == 1; }));
  auto reloaded = LogLines(agent.Stderr(), "config reloaded")[0];
  INFO(reloaded.dump());
  CHECK(reloaded["probes_started"].empty());
  CHECK(reloaded["probes_kept"].size() == 7);
  // The growth window carries on (a fresh one would restart at one sample), the prediction stays.
  CHECK(samples() >= samples_before);
  CHECK_FALSE(std::isnan(agent.Metric(predicted)));
  // The log counts and the follower's offset carry on: 3 + 2, where a fresh follower, starting at
  // the file's end, would count 2.
  CHECK(agent.Metric(gc_errors) == 3);
  AppendLines(log, gc_error_line, 2);
  CHECK(WaitUntil([&] { return agent.Metric(gc_errors) == 5; }));

  // The volume's and the logs' own sections change: those two start fresh, the rest carry on. The
  // fresh volume probe runs once at once, then not for an hour: its window holds one sample.
  WriteFile(agent.config_path(), ReloadConfig(dir, "1h", 4320, 10, 90, "2m"));
  agent.process().Signal(SIGHUP);
  REQUIRE(WaitUntil([&] { return LogLines(agent.Stderr(), "config reloaded").size() == 2; }));
  auto changed = LogLines(agent.Stderr(), "config reloaded")[1];
  INFO(changed.dump());
  CHECK(changed["probes_started"] == nlohmann::json::array({"volume", "logs"}));
  CHECK(changed["probes_kept"].size() == 5);
  CHECK(WaitUntil([&] { return agent.Metric(gc_errors) == 0; }));
  CHECK(WaitUntil([&] { return samples() == 1; }));
  CHECK(std::isnan(agent.Metric(predicted)));

  int code = -1;
  agent.process().Signal(SIGTERM);
  REQUIRE(agent.process().WaitExit(std::chrono::seconds(2), &code));
  CHECK(code == 0);
}

TEST_CASE("a SIGTERM the moment the port file appears is a clean stop", "[e2e]") {
  // The port file used to be written before the signal handlers were installed: a supervisor
  // that stopped the agent as soon as it was reachable could kill it with the default action
  // (exit 143, no "stopped"). A race, so several starts.
  for (int i = 0; i < 5; i++) {
    TempDir dir;
    std::filesystem::create_directory(dir / "cache");
    AgentUnderTest agent(dir.path(), ConfigFor(dir / "cache", "1s"));
    std::string why;
    REQUIRE(agent.Start(&why));
    agent.process().Signal(SIGTERM);
    int code = -1;
    REQUIRE(agent.process().WaitExit(std::chrono::seconds(10), &code));
    INFO("start " << i << ": " << agent.Stderr());
    CHECK(code == 0);
  }
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

// The longest list in `j` at any depth.
std::size_t LongestList(const nlohmann::json& j) {
  std::size_t n = j.is_array() ? j.size() : 0;
  if (j.is_structured()) {
    for (const auto& e : j) n = std::max(n, LongestList(e));
  }
  return n;
}

TEST_CASE("/status stays bounded with more dind entries than its lists hold", "[e2e]") {
  TempDir dir;
  // 120 entries, entry i with i KiB, so the largest come first and the scan's list must be cut.
  for (int i = 1; i <= 120; ++i) {
    const std::filesystem::path entry = dir / fmt::format("cache/dind/{:04}", i);
    std::filesystem::create_directories(entry);
    std::ofstream(entry / "f") << std::string(static_cast<std::size_t>(i) * 1024, 'x');
  }
  AgentUnderTest agent(
      dir.path(), fmt::format(R"({{"root": "{}", "gc": {{"enabled": false}}}})", dir / "cache"));
  std::string why;
  REQUIRE(agent.Start(&why));
  nlohmann::json j;
  REQUIRE(WaitUntil([&] {
    j = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
    return j["probes"]["scan"]["status"] == "ok" && j["probes"]["dind"]["status"] == "ok";
  }));
  const auto& scan = j["probes"]["scan"]["data"];
  REQUIRE(scan["dind_entries"].size() == 50);
  CHECK(scan["dind_entries_omitted"] == 70);
  CHECK(scan["dind_entries"][0]["name"] == "0120");
  CHECK(scan["dind_entries"][49]["name"] == "0071");
  CHECK(j["probes"]["dind"]["data"]["entries"].size() == 50);
  CHECK(j["probes"]["dind"]["data"]["entries_omitted"] == 70);
  CHECK(LongestList(j) <= 50);
}

// The times (last_success, seconds) of the scan's first `runs` successful runs after the start of
// an agent on a small cache whose scan runs every 300 ms with `cpu_budget` and a 3 s max_interval.
std::vector<double> ScanTimes(double cpu_budget, int runs) {
  TempDir dir;
  std::filesystem::create_directories(dir / "cache/dind/build_1");
  AgentUnderTest agent(
      dir.path(),
      nlohmann::json{
          {"root", dir / "cache"},
          {"probes",
           {{"scan", {{"interval", "300ms"}, {"cpu_budget", cpu_budget}, {"max_interval", "3s"}}}}}}
          .dump());
  std::string why;
  REQUIRE(agent.Start(&why));
  std::vector<double> times;
  const std::string last = R"(cachewarden_probe_last_success_timestamp_seconds{probe="scan"})";
  CHECK(WaitUntil(
      [&] {
        const double t = agent.Metric(last);
        if (t > 0 && (times.empty() || t != times.back())) times.push_back(t);
        return static_cast<int>(times.size()) >= runs;
      },
      std::chrono::seconds(30)));
  auto j = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
  const double paced = j["probes"]["scan"]["data"]["paced_interval_seconds"];
  CHECK(paced == (cpu_budget > 0 ? 3.0 : 0.0));
  CHECK(j["probes"]["scan"]["data"]["cpu_seconds"].get<double>() > 0);
  return times;
}

TEST_CASE("the daemon paces the scan by its CPU time up to max_interval", "[e2e][pacing]") {
  // A budget so small that any scan's CPU time asks for more than max_interval: every scan then
  // starts 3 s after the one before, not 300 ms.
  const std::vector<double> paced = ScanTimes(0.000001, 3);
  REQUIRE(paced.size() == 3);
  for (std::size_t i = 1; i < paced.size(); ++i) {
    INFO("gap " << i << ": " << paced[i] - paced[i - 1]);
    CHECK(paced[i] - paced[i - 1] >= 2.9);
  }
  // Unpaced (cpu_budget 0), the scan keeps its interval.
  const std::vector<double> unpaced = ScanTimes(0, 4);
  REQUIRE(unpaced.size() == 4);
  double shortest = 1e9;
  for (std::size_t i = 1; i < unpaced.size(); ++i) {
    shortest = std::min(shortest, unpaced[i] - unpaced[i - 1]);
  }
  CHECK(shortest < 2.0);
}

TEST_CASE("the listening line gives the metrics URL at the address the agent bound", "[e2e]") {
  TempDir dir;
  std::filesystem::create_directory(dir / "cache");
  // A later --listen wins: 127.0.0.2 is loopback too, but not the address the line used to print.
  AgentUnderTest agent(dir.path(), fmt::format(R"({{"root": "{}"}})", dir / "cache"));
  std::string why;
  REQUIRE(agent.Start(&why, {"--listen", "127.0.0.2:0"}));
  REQUIRE(WaitUntil([&] { return !LogLines(agent.Stderr(), "listening").empty(); }));
  const nlohmann::json line = LogLines(agent.Stderr(), "listening").front();
  const std::string url = line["metrics"];
  CHECK(url == fmt::format("http://127.0.0.2:{}/metrics", agent.port()));
  CHECK(HttpGet(url).code == 200);
}

}  // namespace
}  // namespace cachewarden::testing
