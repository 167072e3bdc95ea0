#include "policies/alerts/rules/buildkit_gc_cap.h"

#include <catch2/catch.hpp>

#include "policies/alerts/assessment.h"
#include "probes/buildkit.h"
#include "probes/exposure.h"
#include "probes/logs.h"
#include "probes/scan.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

const SystemTime kNow = SystemTime(std::chrono::seconds(1'700'000'000));
constexpr std::int64_t kGiB = 1LL << 30;

Finding GcCapFinding(const Snapshot& s) {
  for (const auto& f : Assess(s, DefaultAlertsConfig(), kNow)) {
    if (f.rule == "BuildkitGCCapAboveVolume") return f;
  }
  return Finding{};
}

// A 100 GiB volume, BuildKit with the given policies' (keepBytes, maxUsedSpace), and a scan with
// `dind` GiB in dind/ (none: -1) and 30 GiB in buildkit/, of which BuildKit counts all but
// `unaccounted` GiB.
Snapshot Cache(std::vector<std::pair<std::int64_t, std::int64_t>> policies, std::int64_t dind,
               std::int64_t unaccounted = 0) {
  Snapshot s;
  auto vol = std::make_shared<VolumeData>();
  vol->path = "/c";
  vol->size_bytes = 100 * kGiB;
  vol->free_bytes = vol->avail_bytes = 50 * kGiB;
  s.Put<VolumeData>(vol, kNow);
  auto bk = std::make_shared<BuildkitData>();
  bk->address = "unix:///run/buildkit/buildkitd.sock";
  BuildkitWorker w;
  w.id = "w0";
  for (auto [keep, max_used] : policies) {
    BuildkitGcPolicy p;
    p.keep_bytes = keep;
    p.max_used_space = max_used;
    w.gc_policies.push_back(p);
  }
  bk->workers.push_back(w);
  bk->usage.total_bytes = (30 - unaccounted) * kGiB;
  s.Put<BuildkitData>(bk, kNow);
  if (dind >= 0) {
    auto scan = std::make_shared<ScanData>();
    scan->root = "/c";
    scan->scanned_at = kNow - std::chrono::minutes(5);
    scan->groups = {{"buildkit", {}}, {"dind", {}}, {"other", {}}};
    scan->groups[0].totals.allocated_bytes = 30 * kGiB;
    scan->groups[1].totals.allocated_bytes = static_cast<std::uint64_t>(dind * kGiB);
    s.Put<ScanData>(scan, kNow);
  }
  return s;
}

TEST_CASE("BuildkitGCCapAboveVolume fires when BuildKit's cap exceeds its room on the volume",
          "[policies][buildkit]") {
  // 120 GiB kept on a 100 GiB volume: the example.
  Finding f = GcCapFinding(Cache({{2 * kGiB, 0}, {120 * kGiB, 0}}, -1));
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.summary, Catch::StartsWith("BuildKit keeps up to 120.0 GiB on a 100.0 GiB volume"));
  CHECK_THAT(f.remedy, Catch::Contains("CACHE_SIZE_MB"));
  // 80 GiB fits 100 GiB, but not the 70 GiB left beside 30 GiB of dind.
  CHECK(GcCapFinding(Cache({{80 * kGiB, 0}}, -1)).severity == Severity::kOk);
  f = GcCapFinding(Cache({{80 * kGiB, 0}}, 30));
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.remedy, Catch::Contains("less the 30.0 GiB BuildKit does not manage"));
  // BuildKit 0.17's maxUsedSpace counts as the cap too.
  CHECK(GcCapFinding(Cache({{10 * kGiB, 90 * kGiB}}, 20)).severity == Severity::kWarning);
  CHECK(GcCapFinding(Cache({{10 * kGiB, 50 * kGiB}}, 20)).severity == Severity::kOk);
  // 60 GiB fits beside 20 GiB of dind, not beside that and 25 GiB under buildkit/ that BuildKit
  // does not count (and so its GC never frees).
  CHECK(GcCapFinding(Cache({{60 * kGiB, 0}}, 20)).severity == Severity::kOk);
  f = GcCapFinding(Cache({{60 * kGiB, 0}}, 20, 25));
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.remedy, Catch::Contains("less the 45.0 GiB BuildKit does not manage"));
  // A scan older than an hour is not set against BuildKit's live figures.
  Snapshot stale = Cache({{80 * kGiB, 0}}, 30);
  auto old_scan = std::make_shared<ScanData>(*stale.Get<ScanData>());
  old_scan->scanned_at = kNow - std::chrono::hours(2);
  stale.Put<ScanData>(old_scan, kNow);
  CHECK(GcCapFinding(stale).severity == Severity::kOk);
  // No byte cap at all: the cache grows until the disk is full.
  f = GcCapFinding(Cache({{0, 0}}, 0));
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.summary, Catch::Contains("has no byte cap"));
  // Without BuildKit's answer there is nothing to judge.
  Snapshot none;
  CHECK(GcCapFinding(none).rule.empty());
}

TEST_CASE(
    "BuildkitGCCapAboveVolume judges the buildkitd.toml buildkitd's log printed when BuildKit does "
    "not answer",
    "[policies][buildkit]") {
  Snapshot s = Cache({{10 * kGiB, 0}}, 30);  // BuildKit's own answer: 10 GiB fits
  CHECK(GcCapFinding(s).severity == Severity::kOk);
  auto logs = std::make_shared<LogsData>();
  LoggedBuildkitdConfig logged;
  logged.file = "/var/log/pods/ci_buildkitd-0/buildkitd/0.log";
  logged.gc.workers.push_back({});
  logged.gc.workers[0].policies.resize(3);
  logs->logged_config = logged;
  logs->logged_gc_cap = BuildkitdGcCap{"oci", "gcpolicy", 120 * kGiB, 120 * kGiB};
  s.Put<LogsData>(logs, kNow);
  // BuildKit answers: its own policies count, not the log's.
  CHECK(GcCapFinding(s).severity == Severity::kOk);
  // Its latest run failed: the logged settings stand in.
  ProbeResult failed = *s.Find("buildkit");
  failed.status = Status::Error(StatusCode::kTimeout, "deadline");
  s.Set(failed);
  Finding f = GcCapFinding(s);
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.summary, Catch::StartsWith("BuildKit keeps up to 120.0 GiB on a 100.0 GiB volume"));
  CHECK_THAT(f.remedy, Catch::Contains("as the buildkitd.toml its entrypoint printed in "
                                       "/var/log/pods/ci_buildkitd-0/buildkitd/0.log says"));
  // A logged config without a cap leaves buildkitd's built-in defaults: not judged.
  logs = std::make_shared<LogsData>(*logs);
  logs->logged_gc_cap.reset();
  s.Put<LogsData>(logs, kNow);
  CHECK(GcCapFinding(s).rule.empty());
}

TEST_CASE(
    "BuildkitGCCapAboveVolume judges buildkitd's config file when BuildKit does not answer and "
    "nothing was logged",
    "[policies][buildkit]") {
  Snapshot s = Cache({{10 * kGiB, 0}}, 30);
  ProbeResult failed = *s.Find("buildkit");
  failed.status = Status::Error(StatusCode::kMissing, "no socket");
  s.Set(failed);
  CHECK(GcCapFinding(s).rule.empty());  // nothing else says what the cap is
  auto exp = std::make_shared<ExposureData>();
  exp->discovery.ran = true;
  exp->discovery.config_read = "/proc/55/root/etc/buildkitd.toml";
  exp->discovery.gc = BuildkitdGcConfig{};
  exp->discovery.gc->workers.push_back({});
  exp->discovery.gc->workers[0].policies.resize(2);
  // An integer gckeepstorage of 90000: 90000 MB (87.9 GiB) by the guess, more than the 70 GiB of
  // room beside 30 GiB of dind.
  exp->discovery.gc_cap = BuildkitdGcCap{"oci", "gckeepstorage", 90000, 90000ULL << 20};
  s.Put<ExposureData>(exp, kNow);
  Finding f = GcCapFinding(s);
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.summary, Catch::StartsWith("BuildKit keeps up to 87.9 GiB on a 100.0 GiB volume"));
  CHECK_THAT(f.remedy,
             Catch::Contains("as buildkitd's config file /proc/55/root/etc/buildkitd.toml "
                             "says now"));
  // An integer that large is bytes: 60 GB fits.
  exp = std::make_shared<ExposureData>(*exp);
  exp->discovery.gc_cap =
      BuildkitdGcCap{"oci", "gckeepstorage", 60'000'000'000, 60'000'000'000ULL << 20};
  s.Put<ExposureData>(exp, kNow);
  CHECK(GcCapFinding(s).severity == Severity::kOk);
  // A logged config wins over the file, also when it sets no cap (buildkitd's own defaults).
  auto logs = std::make_shared<LogsData>();
  LoggedBuildkitdConfig logged;
  logged.file = "/var/log/buildkitd.log";
  logs->logged_config = logged;
  s.Put<LogsData>(logs, kNow);
  CHECK(GcCapFinding(s).rule.empty());
}

}  // namespace
}  // namespace cachewarden
