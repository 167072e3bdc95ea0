#include "probes/logs.h"

#include <prometheus/text_serializer.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include "probes/snapshot.h"
#include "probes/volume.h"
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

TEST_CASE(
    "logs: a backlog read at once dates Earthly's banners by buildkitd's own lines, not at read "
    "time",
    "[logs]") {
  LogsHarness h;
  h.clock.Set(SystemTime(std::chrono::seconds(1709600000)));  // the agent reads it a day later
  // Two starts an hour apart, as a plain log file keeps them: the entrypoint's lines carry no
  // time, buildkitd's do.
  const std::string start =
      "======== Buildkitd config ==========\n[worker.oci]\n  gc = true\n"
      "======== End buildkitd config ==========\n";
  h.Append(start +
           "time=\"2024-03-04T10:00:00Z\" msg=\"running server on "
           "/run/buildkit/buildkitd.sock\"\n"
           "time=\"2024-03-04T10:40:00Z\" msg=\"gc error: boom\"\n"
           "Error: buildkit process has exited with code 137\n" +
           start +
           "time=\"2024-03-04T11:00:00Z\" msg=\"running server on "
           "/run/buildkit/buildkitd.sock\"\n"
           "time=\"2024-03-04T11:00:00Z\" msg=\"running server on tcp://0.0.0.0:8372\"\n");
  auto d = h.Run();
  CHECK(d->restarts == 1);
  REQUIRE(d->restart_times.size() == 1);
  // Dated by the first server line of the second start, not by the agent's clock.
  CHECK(ToUnixSeconds(d->restart_times[0]) == Approx(1709550000));
  CHECK(d->RestartsSince(SystemTime(std::chrono::seconds(1709599000))) == 0);
  // The exit line is dated by the line before it in the same read, the config block by the one
  // before the banner.
  CHECK(ToUnixSeconds(d->last_time[static_cast<std::size_t>(LogEventKind::kBuildkitExited)]) ==
        Approx(1709548800));
  REQUIRE(d->logged_config);
  CHECK(ToUnixSeconds(d->logged_config->time) == Approx(1709548800));
  // Followed live: a banner read alone is dated when it is read; its server line then dates it.
  h.clock.Set(SystemTime(std::chrono::seconds(1709600100)));
  h.Append(start);
  d = h.Run();
  REQUIRE(d->restarts == 2);
  CHECK(ToUnixSeconds(d->restart_times[1]) == Approx(1709600100));
  h.Append(
      "time=\"2024-03-05T01:01:50Z\" msg=\"running server on /run/buildkit/buildkitd.sock\"\n");
  d = h.Run();
  CHECK(d->restarts == 2);
  CHECK(ToUnixSeconds(d->restart_times[1]) == Approx(1709600510));
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

// Earthly's entrypoint before it starts buildkitd, CRI-formatted as the pod log has it.
std::string EarthlyStartCri() {
  const std::vector<std::string> lines = {
      "cache size set automatically to 20480 MB; this can be changed via the cache_size_mb or "
      "cache_size_pct config options",
      "======== Buildkitd config ==========",
      "debug = false",
      "root = \"/tmp/earthly/buildkit\"",
      "[worker.oci]",
      "  enabled = true",
      "  gc = true",
      "  [[worker.oci.gcpolicy]]",
      "    all = true",
      "    keepDuration = 1296000",
      "  # gckeepstorage sets storage limit for default gc profile, in MB.",
      "  gckeepstorage = 20480",
      "  [[worker.oci.gcpolicy]]",
      "    keepBytes = 10737418240",
      "    filters = [ \"type==source.local\", \"type==source.git.checkout\"]",
      "  [[worker.oci.gcpolicy]]",
      "    all = true",
      "    keepBytes = 21474836480",
      "======== End buildkitd config ==========",
  };
  std::string text;
  for (const auto& l : lines) text += "2024-01-10T13:30:15.123Z stdout F " + l + "\n";
  return text;
}

TEST_CASE(
    "logs: the config block Earthly's entrypoint prints gives the GC settings buildkitd was told",
    "[logs][buildkitd_config]") {
  LogsHarness h;
  h.Append(EarthlyStartCri());
  auto d = h.Run();
  REQUIRE(d->logged_config);
  CHECK(d->logged_config->error.empty());
  CHECK(ToUnixSeconds(d->logged_config->time) == Approx(1704893415.123));
  CHECK(d->logged_config->file == h.log);
  REQUIRE(d->logged_config->gc.workers.size() == 1);
  const auto& w = d->logged_config->gc.workers[0];
  CHECK(w.policies.size() == 3);
  CHECK(w.gckeepstorage_misplaced);
  REQUIRE(d->logged_gc_cap);
  CHECK(d->logged_gc_cap->bytes == 21474836480);
  CHECK(d->entrypoint_cache_size_mb == 20480);
  // The start marker is still a start banner.
  CHECK(Count(*d, LogEventKind::kBuildkitdStart) == 1);
  CHECK(Count(*d, LogEventKind::kCacheSizeAuto) == 1);

  auto j = d->ToJson();
  CHECK(j["entrypoint_cache_size_mb"] == 20480);
  CHECK(j["logged_config"]["error"] == "");
  CHECK(j["logged_config"]["gc_cap"] == nlohmann::json{{"worker", "oci"},
                                                       {"source", "gcpolicy"},
                                                       {"bytes", 21474836480},
                                                       {"bytes_if_mb", 21474836480}});
  const auto& wj = j["logged_config"]["gc"]["workers"][0];
  CHECK(wj["gckeepstorage"] == nlohmann::json{{"raw", 20480},
                                              {"misplaced", true},
                                              {"as_bytes", 20480},
                                              {"as_mb_bytes", 21474836480}});
  CHECK(wj["policies"][0]["keep_duration_seconds"] == 1296000);
  CHECK(wj["policies"][1]["keep_bytes"] == nlohmann::json{{"bytes", 10737418240}});
  CHECK(wj["policies"][1]["reserved_space"].is_null());
  MetricWriter w2;
  d->ExportMetrics(w2);
  const auto text = prometheus::TextSerializer().Serialize(w2.Take());
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkitd_logged_gc_cap_bytes{reading=\"bytes\"} "
                                   "21474836480"));
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkitd_logged_gc_cap_bytes{reading=\"mb\"} "
                                   "21474836480"));
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkitd_logged_config_ok 1"));
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkitd_logged_cache_size_bytes 21474836480"));
}

TEST_CASE("logs: a worker-level gckeepstorage gives both readings, a later block replaces it",
          "[logs][buildkitd_config]") {
  LogsHarness h;
  h.Append(
      "======== Buildkitd config ==========\n[worker.oci]\n  gc = true\n  gckeepstorage = 20480\n"
      "======== End buildkitd config ==========\nclamping cache size to 51200 MB (20% of "
      "filesystem)\n");
  auto d = h.Run();
  REQUIRE(d->logged_gc_cap);
  CHECK(d->logged_gc_cap->source == "gckeepstorage");
  CHECK(d->logged_gc_cap->bytes == 20480);
  CHECK(d->logged_gc_cap->bytes_if_mb == 20480ULL << 20);
  CHECK(d->entrypoint_cache_size_mb == 51200);
  MetricWriter w;
  d->ExportMetrics(w);
  CHECK_THAT(prometheus::TextSerializer().Serialize(w.Take()),
             Catch::Contains("cachewarden_buildkitd_logged_gc_cap_bytes{reading=\"mb\"} "
                             "21474836480"));
  // The next start's block does not parse: its error replaces the settings.
  h.Append(
      "======== Buildkitd config ==========\n[worker.oci]\n  gc = \"yes\"\n"
      "======== End buildkitd config ==========\nCACHE_SIZE_MB=100\n");
  d = h.Run();
  REQUIRE(d->logged_config);
  CHECK(d->logged_config->error ==
        "buildkitd.toml: worker.oci.gc: expected true or false, got \"yes\"");
  CHECK(d->logged_config->gc.workers.empty());
  CHECK_FALSE(d->logged_gc_cap);
  CHECK(d->entrypoint_cache_size_mb == 100);
  MetricWriter w2;
  d->ExportMetrics(w2);
  const auto text = prometheus::TextSerializer().Serialize(w2.Take());
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkitd_logged_config_ok 0"));
  CHECK_THAT(text, !Catch::Contains("cachewarden_buildkitd_logged_gc_cap_bytes"));
}

TEST_CASE("logs: a percentage in the logged config is taken of the volume probe's size",
          "[logs][buildkitd_config]") {
  LogsHarness h;
  h.Append(
      "======== Buildkitd config ==========\n[worker.oci]\n  reservedSpace = \"10%\"\n"
      "======== End buildkitd config ==========\n");
  auto d = h.Run();
  REQUIRE(d->logged_config);
  CHECK_FALSE(d->logged_gc_cap);  // no volume measured yet
  CHECK(d->logged_config_disk_bytes == 0);
  auto volume = std::make_shared<VolumeData>();
  volume->size_bytes = 100ULL << 30;
  auto previous = std::make_shared<Snapshot>();
  previous->Put<VolumeData>(volume, h.clock.Now());
  h.ctx.previous = previous;
  d = h.Run();
  REQUIRE(d->logged_gc_cap);
  CHECK(d->logged_gc_cap->source == "reservedSpace");
  CHECK(d->logged_gc_cap->bytes == 10ULL << 30);
  CHECK(d->ToJson()["logged_config"]["disk_bytes"] == 100ULL << 30);
}

TEST_CASE("logs: a config block without its end marker gives no settings",
          "[logs][buildkitd_config]") {
  LogsHarness h;
  // The fixture's block never ends: the lines after the start marker are buildkitd's own.
  h.Append(testing::ReadFile(testing::SourceDir() + "/tests/fixtures/logs/buildkitd.log"));
  auto d = h.Run();
  CHECK_FALSE(d->logged_config);
  CHECK(d->ToJson()["logged_config"].is_null());
  CHECK(d->ToJson()["entrypoint_cache_size_mb"].is_null());
  // Its lines were matched as ever.
  CHECK(Count(*d, LogEventKind::kBuildkitdStart) == 1);
  CHECK(Count(*d, LogEventKind::kDindBusy) == 3);
  MetricWriter w;
  d->ExportMetrics(w);
  const auto text = prometheus::TextSerializer().Serialize(w.Take());
  CHECK_THAT(text, !Catch::Contains("cachewarden_buildkitd_logged"));
  // The next start marker drops it, and says so; the new block then completes.
  h.Append(
      "======== Buildkitd config ==========\n[worker.oci]\n  gckeepstorage = 1\n"
      "======== End buildkitd config ==========\n");
  d = h.Run();
  REQUIRE(d->logged_config);
  CHECK(d->logged_config->error.empty());
  CHECK(d->logged_config->gc.workers.at(0).gckeepstorage_raw == 1);
}

TEST_CASE("logs: a config block past the bound is dropped and the reason given",
          "[logs][buildkitd_config]") {
  LogsHarness h;
  std::string block = "======== Buildkitd config ==========\n[worker.oci]\n  gc = true\n";
  for (std::size_t i = 0; i <= ConfigBlockCollector::kMaxLines; ++i) block += "# a comment\n";
  block += "  gckeepstorage = 20480\n======== End buildkitd config ==========\n";
  h.Append(block);
  auto d = h.Run();
  REQUIRE(d->logged_config);
  CHECK(d->logged_config->error ==
        "config block dropped: the block is longer than 2000 lines or 64 KiB");
  CHECK(d->logged_config->gc.workers.empty());
  CHECK_FALSE(d->logged_gc_cap);
  // Bytes bound too: 80 lines of 1 KiB.
  h.Append("======== Buildkitd config ==========\n");
  for (int i = 0; i < 80; ++i) h.Append("# " + std::string(1024, 'x') + "\n");
  h.Append("======== End buildkitd config ==========\n");
  d = h.Run();
  REQUIRE(d->logged_config);
  CHECK_THAT(d->logged_config->error, Catch::StartsWith("config block dropped: "));
}

TEST_CASE("the config block collector drops what it cannot read whole",
          "[logs][buildkitd_config]") {
  ConfigBlockCollector c;
  const SystemTime t0{std::chrono::seconds(100)};
  CHECK_FALSE(c.Next("gc = true", false, t0));  // no block open
  CHECK_FALSE(c.Next("======== End buildkitd config ==========", false, t0));
  CHECK_FALSE(c.Next("======== Buildkitd config ==========", false, t0));
  CHECK_FALSE(c.Next("[worker.oci]", false, t0 + std::chrono::seconds(1)));
  auto b = c.Next("======== End buildkitd config ==========", false, t0);
  REQUIRE(b);
  CHECK(b->text == "[worker.oci]\n");
  CHECK(b->time == t0);
  CHECK(b->dropped.empty());
  // A line the follower cut.
  CHECK_FALSE(c.Next("======== Buildkitd config ==========", false, t0));
  b = c.Next("root = \"/tmp/ear", true, t0);
  REQUIRE(b);
  CHECK_THAT(b->dropped, Catch::Contains("cut"));
  CHECK_FALSE(c.Next("======== End buildkitd config ==========", false, t0));
  // A start marker while a block is open.
  CHECK_FALSE(c.Next("======== Buildkitd config ==========", false, t0));
  b = c.Next("======== Buildkitd config ==========", false, t0 + std::chrono::seconds(5));
  REQUIRE(b);
  CHECK(b->time == t0);
  CHECK(b->dropped == "no end marker before the next start marker");
  b = c.Next("======== End buildkitd config ==========", false, t0);
  REQUIRE(b);
  CHECK(b->time == t0 + std::chrono::seconds(5));
  CHECK(b->text.empty());
}

TEST_CASE("the entrypoint's cache size in MB", "[logs][buildkitd_config]") {
  CHECK(EntrypointCacheSizeMb("cache size set automatically to 20480 MB; this can be changed") ==
        20480);
  CHECK(EntrypointCacheSizeMb("clamping cache size to 51200 MB (20% of filesystem)") == 51200);
  CHECK(EntrypointCacheSizeMb("CACHE_SIZE_MB=30000") == 30000);
  CHECK(EntrypointCacheSizeMb("  CACHE_SIZE_MB=30000\r") == 30000);
  CHECK_FALSE(EntrypointCacheSizeMb("CACHE_SIZE_MB="));
  CHECK_FALSE(EntrypointCacheSizeMb("CACHE_SIZE_MB=20%"));
  CHECK_FALSE(EntrypointCacheSizeMb("clamping cache size to lots MB"));
  CHECK_FALSE(EntrypointCacheSizeMb("clamping cache size to 5 GB"));
  CHECK_FALSE(EntrypointCacheSizeMb("gc = true"));
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
