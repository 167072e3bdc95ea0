#include "policies/alerts/alert_rules.h"

#include <catch2/catch.hpp>

#include "probes/volume.h"

namespace cachewarden {
namespace {

RuleConfig Defaults(std::string_view rule) { return DefaultAlertsConfig().Rule(rule); }

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
  std::vector<Candidate> out;
  DecideDiskAlmostFull({"/tmp/earthly", 90, 900, 1000}, Defaults("CacheDiskAlmostFull"), &out);
  CHECK(Find(out, Severity::kWarning).fires);
  CHECK_FALSE(Find(out, Severity::kCritical).fires);
  CHECK(Find(out, Severity::kCritical).holds == false);
  out.clear();
  DecideInodesAlmostFull({"/tmp/earthly", 94, 94, 100}, Defaults("CacheInodesAlmostFull"), &out);
  CHECK_FALSE(Find(out, Severity::kCritical).fires);
  CHECK(Find(out, Severity::kCritical).holds);  // within the hysteresis margin
  CHECK(Find(out, Severity::kWarning).description.find("inodes") != std::string::npos);
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
  std::vector<Candidate> out;
  DecideNotOnVolume(*in, Defaults("CacheNotOnVolume"), &out);
  CHECK(Find(out, Severity::kCritical).fires);
  CHECK(Find(out, Severity::kCritical).summary.find("read-only") != std::string::npos);
  CHECK_FALSE(Find(out, Severity::kWarning).fires);

  out.clear();
  DecideNotOnVolume({"/tmp/earthly", false, "k8s_emptydir", "ext4"}, {}, &out);
  CHECK(Find(out, Severity::kWarning).fires);
  CHECK_FALSE(Find(out, Severity::kCritical).fires);
  out.clear();
  DecideNotOnVolume({"/tmp/earthly", false, "container_root", "overlay"}, {}, &out);
  CHECK(Find(out, Severity::kCritical).fires);
  out.clear();
  DecideNotOnVolume({"/tmp/earthly", false, "volume", "ext4"}, {}, &out);
  for (const auto& c : out) CHECK_FALSE(c.fires);
}

TEST_CASE("filling up needs both little free space and a near prediction", "[alerts]") {
  RuleConfig c = Defaults("CacheDiskFillingUp");
  std::vector<Candidate> out;
  DecideFillingUp({"/c", 30, 12 * 3600, 1e6}, c, &out);
  CHECK(Find(out, Severity::kWarning).fires);
  CHECK_FALSE(Find(out, Severity::kCritical).fires);
  out.clear();
  DecideFillingUp({"/c", 10, 3 * 3600, 1e6}, c, &out);
  CHECK(Find(out, Severity::kCritical).fires);
  out.clear();
  DecideFillingUp({"/c", 10, kNever, 0}, c, &out);
  for (const auto& cand : out) CHECK_FALSE(cand.fires);
  out.clear();
  DecideFillingUp({"/c", 50, 3600, 1e6}, c, &out);
  for (const auto& cand : out) CHECK_FALSE(cand.fires);
}

TEST_CASE("latency fires per op above 100 ms and 1 s at p99", "[alerts]") {
  std::vector<Candidate> out;
  DecideLatency({"/c", {{"read", 0.05}, {"fsync", 1.5}}}, Defaults("CacheIOLatencyHigh"), &out);
  CHECK_FALSE(Find(out, Severity::kWarning, "read").fires);
  CHECK(Find(out, Severity::kWarning, "fsync").fires);
  CHECK(Find(out, Severity::kCritical, "fsync").fires);
  CHECK(Find(out, Severity::kCritical, "fsync").summary.find("1500 ms") != std::string::npos);
}

TEST_CASE("dind rules fire on old mounts, recent busy errors and large leftovers", "[alerts]") {
  std::vector<Candidate> out;
  DecideStaleMounts({"/c/dind", {{"/c/dind/a/merged", 60}}}, Defaults("DindStaleMounts"), &out);
  CHECK_FALSE(out.at(0).fires);
  out.clear();
  DecideStaleMounts({"/c/dind", {{"/c/dind/a/merged", 60}, {"/c/dind/b/merged", 700}}},
                    Defaults("DindStaleMounts"), &out);
  CHECK(out.at(0).fires);
  CHECK(out.at(0).description.find("/c/dind/b/merged") != std::string::npos);
  out.clear();
  DecideResourceBusy({"/c/dind", 600, ""}, Defaults("DindCleanupResourceBusy"), &out);
  CHECK(out.at(0).fires);
  out.clear();
  DecideResourceBusy({"/c/dind", 1000, ""}, Defaults("DindCleanupResourceBusy"), &out);
  CHECK_FALSE(out.at(0).fires);
  out.clear();
  DecideLeftovers({"/c/dind", 11.0 * (1 << 30), 3}, Defaults("DindLeftoversLarge"), &out);
  CHECK(out.at(0).fires);
  out.clear();
  DecideLeftovers({"/c/dind", 1 << 20, 3}, Defaults("DindLeftoversLarge"), &out);
  CHECK_FALSE(out.at(0).fires);
  out.clear();
  DecideSnapshotterFallback({"/c", true, "native"}, {}, &out);
  CHECK(out.at(0).fires);
}

TEST_CASE("GC is ineffective when its trigger held 15 minutes and nothing was freed", "[alerts]") {
  RuleConfig c = Defaults("CacheGCIneffective");
  std::vector<Candidate> out;
  DecideGcIneffective({"/c", {{"dind", 1000, 3, 1}}}, c, &out);
  CHECK(out.at(0).fires);
  out.clear();
  DecideGcIneffective({"/c", {{"dind", 600, 2, 0}}}, c, &out);
  CHECK_FALSE(out.at(0).fires);
}

TEST_CASE("I/O errors fire from the probe's EIO or a recent log line, labelled by source",
          "[alerts]") {
  RuleConfig c = Defaults("CacheIOErrors");
  std::vector<Candidate> out;
  DecideIoErrors({"/c", true, kNever}, c, &out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].labels == MetricLabels{{"source", "probe"}});
  CHECK(out[1].labels == MetricLabels{{"source", "logs"}});
  CHECK(out[0].fires);
  CHECK_FALSE(out[1].fires);
  CHECK(out[0].severity == Severity::kCritical);
  CHECK_THAT(out[0].description, Catch::Contains("EIO on /c"));
  out.clear();
  DecideIoErrors({"/c", false, 60}, c, &out);
  CHECK_FALSE(out.at(0).fires);
  CHECK(out.at(1).fires);
  CHECK_THAT(out[1].description, Catch::Contains("1m ago"));
  out.clear();
  DecideIoErrors({"/c", false, 3600}, c, &out);
  CHECK_FALSE(out.at(0).fires);
  CHECK_FALSE(out.at(1).fires);
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
  std::vector<Candidate> out;
  DecideProbeFailing(*in, {}, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].fires);
  CHECK(out[0].labels == MetricLabels{{"probe", "volume"}});
  CHECK(out[0].summary.find("timeout") != std::string::npos);
}

}  // namespace
}  // namespace cachewarden
