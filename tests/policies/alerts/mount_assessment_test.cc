#include "policies/alerts/mount_assessment.h"

#include <catch2/catch.hpp>

#include "probes/dind.h"
#include "probes/logs.h"
#include "probes/mounts.h"

namespace cachewarden {
namespace {

const SystemTime kNow = SystemTime(std::chrono::seconds(1'700'000'000));

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
  AssessMountsDindLogs(s, &out);
  return out;
}

TEST_CASE("mount verdicts map to severities a CI engineer can act on", "[policies][mounts]") {
  auto f = WithMount(MountKind::kContainerRoot);
  REQUIRE(f.size() == 1);
  CHECK(f[0].severity == Severity::kCritical);
  CHECK_THAT(f[0].remedy, Catch::Contains("native") && Catch::Contains("Resource busy") &&
                              Catch::Contains("-v earthly-cache:/tmp/earthly"));
  f = WithMount(MountKind::kK8sEmptyDir);
  CHECK(f[0].severity == Severity::kWarning);
  CHECK_THAT(f[0].remedy, Catch::Contains("EKS") && Catch::Contains("PersistentVolume"));
  CHECK(WithMount(MountKind::kTmpfs)[0].severity == Severity::kWarning);
  CHECK(WithMount(MountKind::kK8sEmptyDirMemory)[0].severity == Severity::kWarning);
  CHECK(WithMount(MountKind::kNetwork)[0].severity == Severity::kWarning);
  CHECK(WithMount(MountKind::kDockerVolume)[0].severity == Severity::kOk);
  CHECK(WithMount(MountKind::kDedicatedDevice)[0].severity == Severity::kOk);
  CHECK(WithMount(MountKind::kHostBind)[0].severity == Severity::kOk);
  f = WithMount(MountKind::kDockerVolume, true);
  CHECK(Worst(f) == Severity::kCritical);
}

TEST_CASE("a fresh dind mount becomes stale when the log shows rm failing on it",
          "[policies][dind]") {
  auto d = std::make_shared<DindData>();
  DindMountSeen m;
  m.mount.entry_id = "abc";
  m.mount.mount_point = "/tmp/earthly/dind/abc/m";
  m.mount.own_namespace = true;
  m.mount.pid = 42;
  d->mounts.push_back(m);
  Snapshot s;
  s.Put<DindData>(d, kNow);
  std::vector<Finding> out;
  AssessMountsDindLogs(s, &out);
  CHECK(out.empty());

  auto l = std::make_shared<LogsData>();
  LogEvent e;
  e.kind = LogEventKind::kDindBusy;
  e.entry_id = "abc";
  e.path = "/var/earthly/dind/abc";
  l->recent.push_back(e);
  l->counts[static_cast<std::size_t>(LogEventKind::kDindBusy)] = 1;
  s.Put<LogsData>(l, kNow);
  out.clear();
  AssessMountsDindLogs(s, &out);
  REQUIRE(out.size() == 2);
  CHECK(out[0].source == "dind");
  CHECK_THAT(out[0].summary, Catch::Contains("pid 42") && Catch::Contains("abc"));
  CHECK_THAT(out[0].remedy, Catch::Contains("nsenter -t 42 -m umount -l"));
  CHECK(out[1].source == "logs");
}

TEST_CASE("dind leftovers are a warning with their size", "[policies][dind]") {
  auto d = std::make_shared<DindData>();
  d->leftover_entries = 2;
  d->leftover_bytes = 3ULL << 30;
  d->leftover_age = std::chrono::hours(1);
  Snapshot s;
  s.Put<DindData>(d, kNow);
  std::vector<Finding> out;
  AssessMountsDindLogs(s, &out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].severity == Severity::kWarning);
  CHECK_THAT(out[0].summary,
             Catch::Contains("2 leftover dind entries") && Catch::Contains("3.0 GiB"));
}

}  // namespace
}  // namespace cachewarden
