#include "policies/alerts/assessment.h"

#include <fmt/format.h>

#include "base/units.h"
#include "policies/alerts/alert_engine.h"
#include "policies/alerts/mount_assessment.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

void ProbeFailures(const Snapshot& snapshot, std::vector<Finding>* out) {
  for (const auto& [name, r] : snapshot.results()) {
    if (r.status.ok()) continue;
    out->push_back({Severity::kUnknown, name,
                    fmt::format("probe {} failed: {}", name, r.status.ToString()), ""});
  }
}

// The figure behind the disk alerts, shown even when all is well.
void VolumeUsage(const Snapshot& snapshot, std::vector<Finding>* out) {
  auto v = snapshot.Get<VolumeData>();
  if (v == nullptr) return;
  out->push_back({Severity::kOk, "volume",
                  fmt::format("{} is {:.1f}% full ({} of {} available)", v->path,
                              v->UsedRatio() * 100, HumanBytes(static_cast<double>(v->avail_bytes)),
                              HumanBytes(static_cast<double>(v->size_bytes))),
                  ""});
}

// Add an assessor here.
constexpr void (*kAssessors[])(const Snapshot&, std::vector<Finding>*) = {
    &ProbeFailures,
    &VolumeUsage,
    &AssessMountsDindLogs,
};

// Alerts whose condition a probe's assessor already explains, with its fix, under the given source:
// the alert is not repeated when that finding is at least as severe.
constexpr std::pair<std::string_view, std::string_view> kExplainedBy[] = {
    {"CacheNotOnVolume", "mounts"},          {"DindStaleMounts", "dind"},
    {"DindLeftoversLarge", "dind"},          {"DindCleanupResourceBusy", "logs"},
    {"BuildkitSnapshotterFallback", "logs"},
};

bool AlreadyExplained(const Alert& a, const std::vector<Finding>& findings) {
  for (const auto& [rule, source] : kExplainedBy) {
    if (a.name != rule) continue;
    for (const auto& f : findings) {
      // UNKNOWN (the assessor could not look) explains nothing.
      if (f.source == source && f.severity != Severity::kOk && f.severity != Severity::kUnknown &&
          SeverityRank(f.severity) >= SeverityRank(a.severity)) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::vector<Finding> Assess(const Snapshot& snapshot, const AlertsConfig& alerts) {
  std::vector<Finding> out;
  for (auto* assessor : kAssessors) assessor(snapshot, &out);
  const std::size_t from_assessors = out.size();
  // Every alert rule that fires now, ignoring `for`: a one-shot has no history.
  for (const Alert& a : AlertEngine::FiringNow(snapshot, alerts, RealClock::Get().Now())) {
    if (AlreadyExplained(
            a, {out.begin(), out.begin() + static_cast<std::ptrdiff_t>(from_assessors)})) {
      continue;
    }
    std::string source = a.name;
    for (const auto& [k, v] : a.labels) source += fmt::format(" {}={}", k, v);
    out.push_back({a.severity, source, a.summary, a.description});
  }
  return out;
}

std::vector<Finding> Assess(const Snapshot& snapshot) {
  return Assess(snapshot, DefaultAlertsConfig());
}

}  // namespace cachewarden
