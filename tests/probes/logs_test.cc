#include "probes/logs.h"

#include <prometheus/text_serializer.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/support/http.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::TempDir;

struct LogsHarness {
  TempDir dir;
  FakeClock clock;
  ProbeContext ctx;
  std::unique_ptr<Probe> probe;
  std::string log = dir / "buildkitd.log";

  explicit LogsHarness(const std::string& start_at = "beginning") {
    nlohmann::json section = {{"files", {{{"path", log}, {"start_at", start_at}}}},
                              {"recent_events", 3}};
    nlohmann::json effective;
    ConfigReader reader(&section, "/probes/logs", &effective);
    probe = NewLogsProbe(ReadLogsOptions(reader));
    reader.Finish();
    ctx.clock = &clock;
  }
  void Append(const std::string& text) { testing::WriteFile(log, testing::ReadFile(log) + text); }
  std::shared_ptr<const LogsData> Run() {
    std::shared_ptr<const ProbeData> out;
    REQUIRE(probe->Collect(ctx, &out).ok());
    return std::dynamic_pointer_cast<const LogsData>(out);
  }
};

std::uint64_t Count(const LogsData& d, LogEventKind k) {
  return d.counts[static_cast<std::size_t>(k)];
}

TEST_CASE("logs: events are counted once across runs and the latest kept", "[logs]") {
  LogsHarness h;
  h.Append("rm: can't remove '/var/earthly/dind/aa/x': Resource busy\n");
  auto d = h.Run();
  CHECK(Count(*d, LogEventKind::kDindBusy) == 1);
  d = h.Run();
  CHECK(Count(*d, LogEventKind::kDindBusy) == 1);
  h.Append(
      "rm: can't remove '/var/earthly/dind/bb/x': Resource busy\nwrite x: no space left on "
      "device\ngc error: boom\n");
  d = h.Run();
  CHECK(Count(*d, LogEventKind::kDindBusy) == 2);
  CHECK(Count(*d, LogEventKind::kDiskFull) == 1);
  REQUIRE(d->recent.size() == 3);  // bounded by recent_events
  CHECK(d->recent[0].entry_id == "bb");
  CHECK(d->recent[0].time == h.clock.Now());
}

TEST_CASE("logs: a cancelled run fails instead of giving partial data", "[logs]") {
  LogsHarness h;
  h.Append("rm: can't remove '/var/earthly/dind/aa/x': Resource busy\n");
  std::atomic<bool> cancel{true};
  h.ctx.cancel = &cancel;
  std::shared_ptr<const ProbeData> out;
  Status s = h.probe->Collect(h.ctx, &out);
  CHECK(s.code() == StatusCode::kCancelled);
  CHECK(out == nullptr);
  cancel = false;
  CHECK(Count(*h.Run(), LogEventKind::kDindBusy) == 1);
}

TEST_CASE("logs: the snapshotter fallback holds until buildkitd restarts", "[logs]") {
  LogsHarness h;
  h.Append(
      "======== Buildkitd config ==========\ntime=\"2024-01-10T13:30:15Z\" level=debug msg=\"auto "
      "snapshotter: overlayfs is not available for /tmp/earthly/buildkit, trying "
      "fuse-overlayfs\"\n");
  auto d = h.Run();
  CHECK(d->snapshotter_fallback);
  auto t = d->last_time[static_cast<std::size_t>(LogEventKind::kSnapshotterFallback)];
  CHECK(ToUnixSeconds(t) == Approx(1704893415));
  h.clock.Set(t + std::chrono::minutes(10));  // a line without a time is read at the clock's
  h.Append("running server on /run/buildkit/buildkitd.sock\n");
  d = h.Run();
  CHECK_FALSE(d->snapshotter_fallback);
}

TEST_CASE(
    "logs: the fallback and the TLS warning hold past their own start's server lines, until the "
    "next start",
    "[logs]") {
  LogsHarness h;
  // One start, as buildkitd logs it: worker (fallback), listeners (TLS warning), then a `running
  // server on` per address.
  h.Append(
      "time=\"2024-03-04T10:00:00Z\" level=debug msg=\"auto snapshotter: overlayfs is not "
      "available for /tmp/earthly/buildkit, trying fuse-overlayfs\"\n"
      "time=\"2024-03-04T10:00:00Z\" level=warning msg=\"TLS is not enabled for "
      "tcp://0.0.0.0:8372. enabling mutual TLS authentication is highly recommended\"\n"
      "time=\"2024-03-04T10:00:01Z\" level=info msg=\"running server on "
      "/run/buildkit/buildkitd.sock\"\n"
      "time=\"2024-03-04T10:00:01Z\" level=info msg=\"running server on [::]:8372\"\n");
  auto d = h.Run();
  CHECK(d->snapshotter_fallback);
  CHECK(d->plaintext_tcp == std::vector<std::string>{"tcp://0.0.0.0:8372"});
  CHECK(d->ToJson()["plaintext_tcp"] == nlohmann::json{"tcp://0.0.0.0:8372"});
  MetricWriter w;
  d->ExportMetrics(w);
  CHECK_THAT(
      prometheus::TextSerializer().Serialize(w.Take()),
      Catch::Contains("cachewarden_buildkit_log_tls_disabled{address=\"tcp://0.0.0.0:8372\"} 1"));
  // An address that is not host:port characters never becomes a label value.
  h.Append(
      "time=\"2024-03-04T10:00:02Z\" level=warning msg=\"TLS is not enabled for "
      "tcp://evil{x=\\\"1\\\"}:1. enabling mutual TLS\"\n");
  CHECK(h.Run()->plaintext_tcp == std::vector<std::string>{"tcp://0.0.0.0:8372"});
  // Ten minutes later buildkitd starts again, with TLS and overlayfs: both are gone.
  h.Append(
      "time=\"2024-03-04T10:10:00Z\" level=info msg=\"running server on "
      "/run/buildkit/buildkitd.sock\"\n");
  d = h.Run();
  CHECK_FALSE(d->snapshotter_fallback);
  CHECK(d->plaintext_tcp.empty());
  MetricWriter w2;
  d->ExportMetrics(w2);
  CHECK_THAT(prometheus::TextSerializer().Serialize(w2.Take()),
             !Catch::Contains("cachewarden_buildkit_log_tls_disabled"));
}

TEST_CASE("logs: the entrypoint's figures show in /status after their events leave the recent list",
          "[logs]") {
  LogsHarness h;  // keeps 3 recent events
  h.Append(
      "Resetting dir /tmp/earthly\ncache size set automatically to 20480 MB; this can be changed\n"
      "time=\"2024-03-04T10:00:00Z\" level=warning msg=\"TLS is not enabled for "
      "tcp://0.0.0.0:8372. enabling mutual TLS authentication is highly recommended\"\n"
      "Error: buildkit process has exited with code 137\ngc error: a\ngc error: b\ngc error: c\n");
  auto j = h.Run()->ToJson();
  CHECK(j["latest"] == nlohmann::json{{"cache_reset", "/tmp/earthly"},
                                      {"cache_size_auto", "20480 MB"},
                                      {"tls_disabled", "tcp://0.0.0.0:8372"},
                                      {"buildkit_exited", "137"}});
  CHECK(j["counts"]["tls_disabled"] == 1);
  CHECK(j["recent_events"].size() == 3);
}

TEST_CASE("logs: a start banner after an exit or an earlier start is a restart, once per start",
          "[logs]") {
  LogsHarness h;
  // The first start the agent sees is not a restart; its banner and server lines are one start.
  h.Append(
      "time=\"2024-03-04T10:00:00Z\" msg=\"running server on /run/buildkit/buildkitd.sock\"\n"
      "time=\"2024-03-04T10:00:01Z\" msg=\"running server on tcp://0.0.0.0:8372\"\n");
  auto d = h.Run();
  CHECK(d->restarts == 0);
  h.Append(
      "Error: buildkit process has exited with code 2\n"
      "time=\"2024-03-04T10:02:00Z\" msg=\"running server on /run/buildkit/buildkitd.sock\"\n"
      "time=\"2024-03-04T10:02:00Z\" msg=\"running server on tcp://0.0.0.0:8372\"\n"
      "time=\"2024-03-04T10:09:00Z\" msg=\"running server on /run/buildkit/buildkitd.sock\"\n");
  d = h.Run();
  CHECK(d->restarts == 2);
  REQUIRE(d->restart_times.size() == 2);
  CHECK(ToUnixSeconds(d->restart_times[1]) == Approx(1709546940));
  CHECK(d->RestartsSince(d->restart_times[1]) == 1);
  MetricWriter w;
  d->ExportMetrics(w);
  CHECK_THAT(prometheus::TextSerializer().Serialize(w.Take()),
             Catch::Contains("cachewarden_buildkit_log_restarts_total 2"));
}

TEST_CASE("logs: metrics have a fixed set of kinds and invalid UTF-8 is made safe", "[logs]") {
  LogsHarness h;
  h.Append("rm: cannot remove '/var/earthbuild/dind/\xff\xfe/y': Device or resource busy\n");
  auto d = h.Run();
  CHECK(d->recent.at(0).entry_id == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK_NOTHROW(d->ToJson().dump());
  MetricWriter w;
  d->ExportMetrics(w);
  auto text = prometheus::TextSerializer().Serialize(w.Take());
  CHECK(text.find("cachewarden_log_events_total{kind=\"dind_busy\"} 1") != std::string::npos);
  CHECK(text.find("cachewarden_log_events_total{kind=\"gc_error\"} 0") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_snapshotter_fallback 0") != std::string::npos);
  CHECK(text.find("cachewarden_log_last_event_timestamp_seconds{kind=\"dind_busy\"}") !=
        std::string::npos);
}

TEST_CASE("logs: config rejects relative paths and unknown formats", "[logs][config]") {
  auto make = [](nlohmann::json section) {
    nlohmann::json effective;
    ConfigReader reader(&section, "/probes/logs", &effective);
    ReadLogsOptions(reader);
    reader.Finish();
  };
  CHECK_THROWS_WITH(make({{"files", {{{"path", "rel.log"}}}}}),
                    Catch::Contains("/probes/logs/files/0/path"));
  CHECK_THROWS_WITH(make({{"files", {{{"path", "/a.log"}, {"format", "json"}}}}}),
                    Catch::Contains("format"));
  CHECK_THROWS_WITH(make({{"files", {{{"path", "/a.log"}, {"formatt", "cri"}}}}}),
                    Catch::Contains("did you mean"));
}

}  // namespace
}  // namespace cachewarden

namespace cachewarden {
namespace {

// The running agent follows a log that appears after it started, through a rename rotation, and
// serves the events on /status and /metrics.
TEST_CASE("the running agent follows a log that appears late and rotates", "[logs][e2e]") {
  TempDir dir;
  const std::string log = dir / "buildkitd.log";
  nlohmann::json config = {
      {"root", dir / "cache"},
      {"listen", "127.0.0.1:0"},
      {"probes", {{"logs", {{"interval", "100ms"}, {"files", {{{"path", log}}}}}}}}};
  testing::WriteFile(dir / "config.json", config.dump());
  testing::ChildProcess agent(
      {testing::BinaryPath(), "run", "--config", dir / "config.json", "--port-file", dir / "port"},
      dir.path());
  REQUIRE(testing::WaitUntil([&] { return !testing::ReadFile(dir / "port").empty(); }));
  std::string port = testing::ReadFile(dir / "port");
  while (!port.empty() && (port.back() == '\n' || port.back() == ' ')) port.pop_back();
  const std::string base = "http://127.0.0.1:" + port;
  auto busy_count = [&]() -> int {
    auto r = testing::HttpGet(base + "/status");
    if (r.code != 200) return -1;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    auto data = j["probes"]["logs"]["data"];
    if (!data.is_object()) return -1;
    return data["counts"]["dind_busy"].get<int>();
  };
  REQUIRE(testing::WaitUntil([&] { return busy_count() == 0; }));
  testing::WriteFile(log, "rm: can't remove '/var/earthly/dind/e1/x': Resource busy\n");
  REQUIRE(testing::WaitUntil([&] { return busy_count() == 1; }));
  REQUIRE(std::rename(log.c_str(), (log + ".1").c_str()) == 0);
  testing::WriteFile(log, "rm: can't remove '/var/earthly/dind/e2/x': Resource busy\n");
  REQUIRE(testing::WaitUntil([&] { return busy_count() == 2; }));
  auto metrics = testing::HttpGet(base + "/metrics").body;
  CHECK_THAT(metrics, Catch::Contains("cachewarden_log_events_total{kind=\"dind_busy\"} 2"));
  agent.Signal(SIGTERM);
  int code = -1;
  CHECK(agent.WaitExit(std::chrono::seconds(20), &code));
  CHECK(code == 0);
}

}  // namespace
}  // namespace cachewarden
