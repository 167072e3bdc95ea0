#include "policies/alerts/alert_rules.h"

#include <catch2/catch.hpp>

#include "probes/volume.h"

namespace cachewarden {
namespace {

RuleConfig Defaults(std::string_view rule) { return DefaultAlertsConfig().Rule(rule); }

NotOnVolumeInput OnKind(MountKind kind, std::string fstype) {
  NotOnVolumeInput in;
  in.path = "/tmp/earthly";
  in.kind = kind;
  in.fstype = std::move(fstype);
  return in;
}

LogEventInput BusyAgo(double seconds) {
  LogEventInput in;
  in.path = "/c/dind";
  in.seconds_since_last = seconds;
  return in;
}

// The candidate of `severity` (and, if given, label value), or fail.
const Candidate& Find(const std::vector<Candidate>& cands, Severity severity,
                      const std::string& label = "") {
  for (const auto& c : cands) {
    if (c.severity != severity) continue;
    if (label.empty() || (!c.labels.empty() && c.labels[0].second == label)) return c;
  }
  FAIL("no candidate");
  return cands.front();
}

TEST_CASE("every rule has a config with its documented defaults", "[alerts]") {
  AlertsConfig c = DefaultAlertsConfig();
  for (const auto& def : RuleTable()) {
    INFO(def.name);
    const RuleConfig& r = c.Rule(def.name);
    CHECK(r.enabled);
    CHECK(r.for_duration == def.default_for);
    CHECK(r.params.size() == def.params.size());
  }
  CHECK(c.Rule("CacheDiskAlmostFull").Param("warning_percent") == 85);
  CHECK(c.Rule("CacheDiskAlmostFull").Param("critical_percent") == 95);
  CHECK(c.Rule("DindLeftoversLarge").Param("max_size") == 10.0 * 1024 * 1024 * 1024);
  CHECK(c.Rule("CacheIOLatencyHigh").Param("warning_p99") == Approx(0.1));
  CHECK(c.Rule("CacheDiskFillingUp").Param("critical_full_within") == 4 * 3600);
}

TEST_CASE("the disk and inode rules fire at 85% (warning) and 95% (critical)", "[alerts]") {
  RuleOutcome out;
  DecideDiskAlmostFull({"/tmp/earthly", 90, 900, 1000, 100}, Defaults("CacheDiskAlmostFull"), &out);
  CHECK(Find(out.candidates, Severity::kWarning).fires);
  CHECK_FALSE(Find(out.candidates, Severity::kCritical).fires);
  CHECK(Find(out.candidates, Severity::kCritical).holds == false);
  out = {};
  DecideInodesAlmostFull({"/tmp/earthly", 94, 94, 100, 6}, Defaults("CacheInodesAlmostFull"), &out);
  CHECK_FALSE(Find(out.candidates, Severity::kCritical).fires);
  CHECK(Find(out.candidates, Severity::kCritical).holds);  // within the hysteresis margin
  CHECK(Find(out.candidates, Severity::kWarning).description.find("inodes") != std::string::npos);
}

TEST_CASE("a read-only cache filesystem is critical for CacheNotOnVolume", "[alerts]") {
  FakeClock clock;
  auto v = std::make_shared<VolumeData>();
  v->path = "/tmp/earthly";
  v->size_bytes = 100;
  v->readonly = true;
  Snapshot s;
  s.Put<VolumeData>(v, clock.Now());
  auto in = ExtractNotOnVolume(s, clock.Now());
  REQUIRE(in);
  RuleOutcome out;
  DecideNotOnVolume(*in, Defaults("CacheNotOnVolume"), &out);
  CHECK(Find(out.candidates, Severity::kCritical).fires);
  CHECK(Find(out.candidates, Severity::kCritical).summary.find("read-only") != std::string::npos);
  CHECK_FALSE(Find(out.candidates, Severity::kWarning).fires);

  out = {};
  DecideNotOnVolume(OnKind(MountKind::kK8sEmptyDir, "ext4"), {}, &out);
  CHECK(Find(out.candidates, Severity::kWarning).fires);
  CHECK(Find(out.candidates, Severity::kWarning).labels == MetricLabels{{"kind", "k8s_emptydir"}});
  CHECK_FALSE(Find(out.candidates, Severity::kCritical).fires);
  out = {};
  DecideNotOnVolume(OnKind(MountKind::kContainerRoot, "overlay"), {}, &out);
  CHECK(Find(out.candidates, Severity::kCritical).fires);
  out = {};
  DecideNotOnVolume(OnKind(MountKind::kFuse, "fuse.s3fs"), {}, &out);
  CHECK(Find(out.candidates, Severity::kWarning).fires);
  CHECK_THAT(Find(out.candidates, Severity::kWarning).summary,
             Catch::Contains("FUSE") && Catch::Contains("statfs may hang"));
  out = {};
  DecideNotOnVolume(OnKind(MountKind::kDockerVolume, "ext4"), {}, &out);
  for (const auto& c : out.candidates) CHECK_FALSE(c.fires);
  CHECK_THAT(out.ok_summary, Catch::Contains("docker_volume"));
}

TEST_CASE("filling up needs both little free space and a near prediction", "[alerts]") {
  RuleConfig c = Defaults("CacheDiskFillingUp");
  RuleOutcome out;
  DecideFillingUp({"/c", 30, 12 * 3600, 1e6}, c, &out);
  CHECK(Find(out.candidates, Severity::kWarning).fires);
  CHECK_FALSE(Find(out.candidates, Severity::kCritical).fires);
  out = {};
  DecideFillingUp({"/c", 10, 3 * 3600, 1e6}, c, &out);
  CHECK(Find(out.candidates, Severity::kCritical).fires);
  out = {};
  DecideFillingUp({"/c", 10, kNever, 0}, c, &out);
  for (const auto& cand : out.candidates) CHECK_FALSE(cand.fires);
  out = {};
  DecideFillingUp({"/c", 50, 3600, 1e6}, c, &out);
  for (const auto& cand : out.candidates) CHECK_FALSE(cand.fires);
}

TEST_CASE("latency fires per op above 100 ms and 1 s at p99", "[alerts]") {
  RuleOutcome out;
  DecideLatency({"/c", {{"read", 0.05}, {"fsync", 1.5}}}, Defaults("CacheIOLatencyHigh"), &out);
  CHECK_FALSE(Find(out.candidates, Severity::kWarning, "read").fires);
  CHECK(Find(out.candidates, Severity::kWarning, "fsync").fires);
  CHECK(Find(out.candidates, Severity::kCritical, "fsync").fires);
  CHECK(Find(out.candidates, Severity::kCritical, "fsync").summary.find("1500 ms") !=
        std::string::npos);
}

TEST_CASE("dind rules fire on stale mounts, recent busy errors and large leftovers", "[alerts]") {
  RuleOutcome out;
  DecideStaleMounts({"/c/dind", {}, 2}, Defaults("DindStaleMounts"), &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  CHECK(out.ok_summary == "2 mount(s) under /c/dind, none stale");
  out = {};
  DindMount m;
  m.mount_point = "/c/dind/b/merged";
  m.entry_id = "b";
  m.pid = 42;
  DecideStaleMounts({"/c/dind", {{m, false}}, 2}, Defaults("DindStaleMounts"), &out);
  CHECK(out.candidates.at(0).fires);
  CHECK(out.candidates.at(0).value == 1);
  CHECK_THAT(out.candidates.at(0).description,
             Catch::Contains("nsenter -t 42 -m umount -l /c/dind/b/merged"));
  out = {};
  DecideResourceBusy(BusyAgo(600), Defaults("DindCleanupResourceBusy"), &out);
  CHECK(out.candidates.at(0).fires);
  out = {};
  DecideResourceBusy(BusyAgo(1000), Defaults("DindCleanupResourceBusy"), &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  out = {};
  DecideLeftovers({"/c/dind", 11.0 * (1 << 30), 3, 3600, {}}, Defaults("DindLeftoversLarge"), &out);
  CHECK(out.candidates.at(0).fires);
  out = {};
  DecideLeftovers({"/c/dind", 1 << 20, 3, 3600, {}}, Defaults("DindLeftoversLarge"), &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  out = {};
  DecideSnapshotterFallback({"/c", true, "native"}, {}, &out);
  CHECK(out.candidates.at(0).fires);
}

TEST_CASE("dind leftovers are named, largest first, with size and real idle time, then counted",
          "[alerts]") {
  LeftoversInput in{"/c/dind", 11.0 * (1 << 30), 5, 3600, {}};
  in.largest = {{"big", 8.0 * (1 << 30), 3 * 86400.0},
                {"mid", 2.0 * (1 << 30), 7200},
                {"small", 1.0 * (1 << 30), 3700}};
  RuleOutcome out;
  DecideLeftovers(in, Defaults("DindLeftoversLarge"), &out);
  REQUIRE(out.candidates.at(0).fires);
  CHECK(
      out.candidates[0].summary ==
      "5 leftover dind entries under /c/dind hold 11.0 GiB: big (8.0 GiB, idle 3d), mid (2.0 GiB, "
      "idle 2h), small (1.0 GiB, idle 1h1m) and 2 more");
  CHECK_THAT(out.candidates[0].description,
             Catch::Contains("`cachewarden gc`") && Catch::Contains("idle (nothing in it modified) "
                                                                    "for 1h or more"));
  in = {"/c/dind", 5 << 20, 1, 3600, {{"old1", 5 << 20, 3 * 86400.0}}};
  out = {};
  DecideLeftovers(in, Defaults("DindLeftoversLarge"), &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  CHECK(out.ok_summary ==
        "1 leftover dind entry under /c/dind holds 5.0 MiB: old1 (5.0 MiB, idle 3d) (limits: 10.0 "
        "GiB, 100 entries; `cachewarden gc` frees them)");
}

TEST_CASE("GC is ineffective when its trigger held 15 minutes and nothing was freed", "[alerts]") {
  RuleConfig c = Defaults("CacheGCIneffective");
  RuleOutcome out;
  DecideGcIneffective({"/c", {{"dind", 1000, 3, 1}}}, c, &out);
  CHECK(out.candidates.at(0).fires);
  out = {};
  DecideGcIneffective({"/c", {{"dind", 600, 2, 0}}}, c, &out);
  CHECK_FALSE(out.candidates.at(0).fires);
}

TEST_CASE("I/O errors fire from the probe's EIO or a recent log line, labelled by source",
          "[alerts]") {
  RuleConfig c = Defaults("CacheIOErrors");
  RuleOutcome out;
  DecideIoErrors({"/c", true, kNever}, c, &out);
  REQUIRE(out.candidates.size() == 2);
  CHECK(out.candidates[0].labels == MetricLabels{{"source", "probe"}});
  CHECK(out.candidates[1].labels == MetricLabels{{"source", "logs"}});
  CHECK(out.candidates[0].fires);
  CHECK_FALSE(out.candidates[1].fires);
  CHECK(out.candidates[0].severity == Severity::kCritical);
  CHECK_THAT(out.candidates[0].description, Catch::Contains("EIO on /c"));
  out = {};
  DecideIoErrors({"/c", false, 60}, c, &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  CHECK(out.candidates.at(1).fires);
  CHECK_THAT(out.candidates[1].description, Catch::Contains("1m ago"));
  out = {};
  DecideIoErrors({"/c", false, 3600}, c, &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  CHECK_FALSE(out.candidates.at(1).fires);
}

TEST_CASE("a failing probe is a candidate labelled with the probe", "[alerts]") {
  Snapshot s;
  ProbeResult r;
  r.probe = "volume";
  r.status = Status::Error(StatusCode::kTimeout, "did not finish within 5s");
  r.consecutive_failures = 4;
  s.Set(r);
  auto in = ExtractProbes(s, SystemTime{});
  REQUIRE(in);
  RuleOutcome out;
  DecideProbeFailing(*in, {}, &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].labels == MetricLabels{{"probe", "volume"}});
  CHECK(out.candidates[0].summary.find("timeout") != std::string::npos);
}

}  // namespace
}  // namespace cachewarden
