#include "policies/alerts/rules/not_on_volume.h"

#include <catch2/catch.hpp>

#include "policies/alerts/assessment.h"
#include "probes/mounts.h"

namespace cachewarden {
namespace {

const SystemTime kNow = SystemTime(std::chrono::seconds(1'700'000'000));

// check's CacheNotOnVolume findings for a cache on `kind`.
std::vector<Finding> WithMount(MountKind kind, bool readonly = false) {
  auto m = std::make_shared<MountsData>();
  m->cache_root = "/tmp/earthly";
  m->holder.fstype = "overlay";
  m->holder.mount_point = "/";
  m->verdict.kind = kind;
  m->verdict.readonly = readonly;
  m->verdict.reason = "test";
  Snapshot s;
  s.Put<MountsData>(m, kNow);
  std::vector<Finding> out;
  for (auto& f : Assess(s, DefaultAlertsConfig(), kNow)) {
    if (f.rule == "CacheNotOnVolume") out.push_back(std::move(f));
  }
  return out;
}

TEST_CASE("mount verdicts map to severities a CI engineer can act on", "[policies][mounts]") {
  auto f = WithMount(MountKind::kContainerRoot);
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kCritical);
  CHECK_THAT(f[0].remedy, Catch::Contains("native") && Catch::Contains("Resource busy") &&
                              Catch::Contains("-v earthly-cache:/tmp/earthly"));
  f = WithMount(MountKind::kK8sEmptyDir);
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK(f[0].labels == MetricLabels{{"kind", "k8s_emptydir"}});
  CHECK_THAT(f[0].remedy, Catch::Contains("EKS") && Catch::Contains("PersistentVolume"));
  CHECK(WithMount(MountKind::kTmpfs).at(0).severity == Severity::kWarning);
  CHECK(WithMount(MountKind::kK8sEmptyDirMemory).at(0).severity == Severity::kWarning);
  CHECK(WithMount(MountKind::kNetwork).at(0).severity == Severity::kWarning);
  CHECK(WithMount(MountKind::kFuse).at(0).severity == Severity::kWarning);
  CHECK_THAT(WithMount(MountKind::kFuse).at(0).summary, Catch::Contains("FUSE"));
  CHECK(WithMount(MountKind::kDockerVolume).at(0).severity == Severity::kOk);
  CHECK(WithMount(MountKind::kDedicatedDevice).at(0).severity == Severity::kOk);
  CHECK(WithMount(MountKind::kUnknown).at(0).severity == Severity::kOk);
  f = WithMount(MountKind::kHostBind);
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kOk);
  CHECK_THAT(f[0].summary, Catch::Contains("shares that disk"));
  f = WithMount(MountKind::kDockerVolume, true);
  CHECK(Worst(f) == Severity::kCritical);
  CHECK_THAT(f.at(0).summary, Catch::Contains("read-only"));
}

TEST_CASE("one verdict per mount kind: critical, warning or fine", "[policies][mounts]") {
  for (const auto& [kind, name] : kMountKindNames) {
    INFO(name);
    const Severity expected = kind == MountKind::kContainerRoot ? Severity::kCritical
                              : kind == MountKind::kDockerVolume || kind == MountKind::kHostBind ||
                                      kind == MountKind::kDedicatedDevice ||
                                      kind == MountKind::kUnknown
                                  ? Severity::kOk
                                  : Severity::kWarning;
    CHECK(MountKindSeverity(kind) == expected);
    CHECK(Worst(WithMount(kind)) == expected);
  }
}

TEST_CASE("without the mounts probe the read-only flag of the volume probe still decides",
          "[policies][mounts]") {
  NotOnVolumeInput in;
  in.path = "/tmp/earthly";
  RuleOutcome out;
  DecideNotOnVolume(in, {}, &out);
  for (const auto& c : out.candidates) CHECK_FALSE(c.fires);
  CHECK(out.ok_summary.empty());  // nothing known worth saying
  in.readonly = true;
  out = {};
  DecideNotOnVolume(in, {}, &out);
  CHECK(out.candidates.at(0).severity == Severity::kCritical);
  CHECK(out.candidates.at(0).fires);
  CHECK(out.candidates.at(1).labels == MetricLabels{{"kind", "unknown"}});
}

}  // namespace
}  // namespace cachewarden
