#include "policies/alerts/assessment.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <set>

#include "policies/alerts/alert_engine.h"
#include "policies/alerts/alert_rules.h"
#include "probes/dind.h"
#include "probes/logs.h"
#include "probes/mounts.h"
#include "probes/volume.h"
#include "tests/support/process.h"
#include "tests/support/snapshots.h"

namespace cachewarden {
namespace {

using testing::MountsFrom;
using testing::VolumeAt;

const Finding* FindingOf(const std::vector<Finding>& findings, std::string_view rule) {
  for (const auto& f : findings) {
    if (f.rule == rule) return &f;
  }
  return nullptr;
}

TEST_CASE("check's verdict is the highest severity of the alerts firing now", "[alerts][check]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  AlertsConfig config = DefaultAlertsConfig();
  auto findings = Assess(VolumeAt(97, clock), config, now);
  CHECK(Worst(findings) == Severity::kCritical);
  const Finding* disk = FindingOf(findings, "CacheDiskAlmostFull");
  REQUIRE(disk != nullptr);
  CHECK(disk->severity == Severity::kCritical);  // the highest of warning and critical, once
  CHECK(disk->Source() == "CacheDiskAlmostFull");
  CHECK(disk->summary.find("97.0%") != std::string::npos);
  CHECK_FALSE(disk->remedy.empty());
  CHECK(Worst(Assess(VolumeAt(90, clock), config, now)) == Severity::kWarning);
  CHECK(Worst(Assess(VolumeAt(50, clock), config, now)) == Severity::kOk);
  // The thresholds come from config; `for` does not delay a one-shot.
  config.rules["CacheDiskAlmostFull"].params["warning_percent"] = 40;
  CHECK(Worst(Assess(VolumeAt(50, clock), config, now)) == Severity::kWarning);
  config.rules["CacheDiskAlmostFull"].enabled = false;
  findings = Assess(VolumeAt(97, clock), config, now);
  CHECK(Worst(findings) == Severity::kOk);
  CHECK(FindingOf(findings, "CacheDiskAlmostFull") == nullptr);
}

TEST_CASE("a rule that does not fire gives its OK line, with the figure it watches",
          "[alerts][check]") {
  FakeClock clock;
  auto findings = Assess(VolumeAt(42, clock), DefaultAlertsConfig(), clock.Now());
  const Finding* disk = FindingOf(findings, "CacheDiskAlmostFull");
  REQUIRE(disk != nullptr);
  CHECK(disk->severity == Severity::kOk);
  CHECK(disk->summary == "/tmp/earthly is 42.0% full (580.0 MiB of 1000.0 MiB available)");
  CHECK(disk->remedy.empty());
  // Rules whose probes have no data say nothing.
  CHECK(FindingOf(findings, "CacheIOLatencyHigh") == nullptr);
  CHECK(FindingOf(findings, "DindStaleMounts") == nullptr);
}

TEST_CASE("a failed probe is UNKNOWN in check, named by its rule and probe", "[alerts][check]") {
  FakeClock clock;
  Snapshot s;
  ProbeResult r;
  r.probe = "volume";
  r.status = Status::Error(StatusCode::kMissing, "statvfs /nope: No such file or directory");
  r.consecutive_failures = 1;
  s.Set(r);
  auto findings = Assess(s, DefaultAlertsConfig(), clock.Now());
  CHECK(Worst(findings) == Severity::kUnknown);
  const Finding* f = FindingOf(findings, "CacheProbeFailing");
  REQUIRE(f != nullptr);
  CHECK(f->severity == Severity::kUnknown);
  CHECK(f->Source() == "CacheProbeFailing probe=volume");
  CHECK_THAT(f->summary, Catch::Contains("No such file"));
}

// ---- check and the alert engine agree.

// The state of each rule instance that fires: (rule, labels) -> severity as `check` reports it.
using States = std::map<std::pair<std::string, MetricLabels>, Severity>;

void KeepWorst(States& states, const std::pair<std::string, MetricLabels>& key, Severity s) {
  auto [it, added] = states.try_emplace(key, s);
  if (!added && SeverityRank(s) > SeverityRank(it->second)) it->second = s;
}

States CheckStates(const std::vector<Finding>& findings) {
  States out;
  for (const auto& f : findings) {
    if (f.severity != Severity::kOk) KeepWorst(out, {f.rule, f.labels}, f.severity);
  }
  return out;
}

// What the daemon says about `s`: one evaluation by an engine whose rules fire at once (the daemon
// once each rule's `for` has passed), read from the engine's alerts and from its /metrics.
struct DaemonView {
  States alerts;                            // the engine's firing alerts
  std::map<std::string, Severity> metrics;  // per rule, the worst cachewarden_alert_firing == 1
};

DaemonView Daemon(const Snapshot& s, SystemTime now) {
  AlertsConfig config = DefaultAlertsConfig();
  for (auto& [name, rc] : config.rules) rc.for_duration = Duration::zero();
  AlertEngine engine(config);
  engine.Evaluate(s, now);
  DaemonView out;
  for (const auto& [key, a] : engine.alerts()) {
    if (a.state != AlertState::kFiring) continue;
    KeepWorst(out.alerts, {a.name, a.labels}, CheckSeverity(*FindRule(a.name), a.severity));
  }
  MetricWriter w;
  engine.ExportMetrics(w);
  for (const auto& family : w.Take()) {
    if (family.name != "cachewarden_alert_firing") continue;
    for (const auto& m : family.metric) {
      if (m.gauge.value != 1) continue;
      std::string rule, severity;
      for (const auto& l : m.label) (l.name == "alertname" ? rule : severity) = l.value;
      const Severity alert = *ValueIn<Severity>(kSeverityNames, severity);
      const Severity in_check = CheckSeverity(*FindRule(rule), alert);
      auto [it, added] = out.metrics.try_emplace(rule, in_check);
      if (!added && SeverityRank(in_check) > SeverityRank(it->second)) it->second = in_check;
    }
  }
  return out;
}

std::string Describe(const States& states) {
  std::string out;
  for (const auto& [key, s] : states) {
    Finding f{s, key.first, key.second, "", ""};
    out += f.Source() + "=" + std::string(SeverityName(s)) + "; ";
  }
  return out;
}

// check's findings and the daemon's alerts agree on `s`, finding by finding: the same rule
// instances fire, at the same severity, and /metrics's cachewarden_alert_firing shows each rule's
// worst of them. Returns check's findings.
std::vector<Finding> RequireAgreement(const Snapshot& s, SystemTime now) {
  auto findings = Assess(s, DefaultAlertsConfig(), now);
  const States check = CheckStates(findings);
  const DaemonView daemon = Daemon(s, now);
  INFO("check: " << Describe(check));
  INFO("alerts: " << Describe(daemon.alerts));
  CHECK(check == daemon.alerts);
  std::map<std::string, Severity> per_rule;
  for (const auto& [key, sev] : check) {
    auto [it, added] = per_rule.try_emplace(key.first, sev);
    if (!added && SeverityRank(sev) > SeverityRank(it->second)) it->second = sev;
  }
  CHECK(per_rule == daemon.metrics);
  return findings;
}

Snapshot WithMounts(std::shared_ptr<const MountsData> m, const Clock& clock) {
  Snapshot s = VolumeAt(50, clock);
  s.Put<MountsData>(std::move(m), clock.Now());
  return s;
}

TEST_CASE("check and cachewarden_alert_firing agree on every mount kind, read-only or not",
          "[alerts][check][mounts]") {
  FakeClock clock;
  for (const auto& [kind, name] : kMountKindNames) {
    for (bool readonly : {false, true}) {
      INFO(name << (readonly ? ", read-only" : ""));
      auto m = std::make_shared<MountsData>();
      m->cache_root = "/tmp/earthly";
      m->holder.fstype = "ext4";
      m->holder.mount_point = "/tmp/earthly";
      m->verdict.kind = kind;
      m->verdict.readonly = readonly;
      m->verdict.reason = "test";
      auto findings = RequireAgreement(WithMounts(m, clock), clock.Now());
      // The verdict itself: critical on a container's root or read-only; a warning on storage
      // that works badly, FUSE included.
      const Severity expected = readonly || kind == MountKind::kContainerRoot ? Severity::kCritical
                                : kind == MountKind::kK8sEmptyDir ||
                                        kind == MountKind::kK8sEmptyDirMemory ||
                                        kind == MountKind::kTmpfs || kind == MountKind::kNetwork ||
                                        kind == MountKind::kFuse
                                    ? Severity::kWarning
                                    : Severity::kOk;
      CHECK(Worst(findings) == expected);
    }
  }
}

TEST_CASE("check and cachewarden_alert_firing agree on every captured mountinfo",
          "[alerts][check][mounts]") {
  FakeClock clock;
  const std::string dir = testing::SourceDir() + "/tests/fixtures/mountinfo";
  int fixtures = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    INFO(e.path().filename().string());
    auto m = MountsFrom(testing::ReadFile(e.path().string()));
    REQUIRE(m != nullptr);
    auto findings = RequireAgreement(WithMounts(m, clock), clock.Now());
    const Finding* f = FindingOf(findings, "CacheNotOnVolume");
    REQUIRE(f != nullptr);
    CHECK(f->severity ==
          (m->verdict.readonly ? Severity::kCritical : MountKindSeverity(m->verdict.kind)));
    ++fixtures;
  }
  CHECK(fixtures >= 11);
}

TEST_CASE("check and cachewarden_alert_firing agree beyond mounts: disk, probes, dind, logs",
          "[alerts][check]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  RequireAgreement(VolumeAt(97, clock), now);
  RequireAgreement(VolumeAt(90, clock), now);

  Snapshot failing = VolumeAt(50, clock);
  ProbeResult r;
  r.probe = "latency";
  r.status = Status::Error(StatusCode::kTimeout, "did not finish within 5s");
  r.consecutive_failures = 1;
  failing.Set(r);
  CHECK(Worst(RequireAgreement(failing, now)) == Severity::kUnknown);

  Snapshot dind = VolumeAt(50, clock);
  auto d = std::make_shared<DindData>();
  d->dirs = {"/tmp/earthly/dind"};
  DindMountSeen m;
  m.mount.mount_point = "/tmp/earthly/dind/abc/merged";
  m.mount.entry_id = "abc";
  m.stale = true;
  d->mounts.push_back(m);
  d->leftover_entries = 200;
  d->leftover_bytes = 1 << 20;
  dind.Put<DindData>(d, now);
  auto l = std::make_shared<LogsData>();
  l->files.push_back({"/var/log/buildkitd.log", "configured", "", {}, ""});
  for (auto kind : {LogEventKind::kDindBusy, LogEventKind::kDiskFull, LogEventKind::kIoError}) {
    l->counts[static_cast<std::size_t>(kind)] = 1;
    l->last_time[static_cast<std::size_t>(kind)] = now - std::chrono::minutes(1);
  }
  l->snapshotter_fallback = true;
  dind.Put<LogsData>(l, now);
  auto findings = RequireAgreement(dind, now);
  std::set<std::string> rules;
  for (const auto& f : findings) {
    if (f.severity != Severity::kOk) rules.insert(f.rule);
  }
  CHECK(rules == std::set<std::string>{"DindStaleMounts", "DindCleanupResourceBusy",
                                       "DindLeftoversLarge", "BuildkitSnapshotterFallback",
                                       "CacheNoSpaceErrors", "CacheIOErrors"});
}

}  // namespace
}  // namespace cachewarden
