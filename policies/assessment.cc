#include "policies/assessment.h"

#include <fmt/format.h>

#include "policies/mount_assessment.h"
#include "probes/units.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

void ProbeFailures(const Snapshot& snapshot, std::vector<Finding>* out) {
  for (const auto& [name, r] : snapshot.results()) {
    if (r.status.ok()) continue;
    out->push_back({Severity::kUnknown, name,
                    fmt::format("probe {} failed: {}", name, r.status.ToString()),
                    ""});
  }
}

void VolumeUsage(const Snapshot& snapshot, std::vector<Finding>* out) {
  auto v = snapshot.Get<VolumeData>();
  if (v == nullptr) return;
  double used = v->UsedRatio() * 100;
  Severity s = used > 95 ? Severity::kCritical
               : used > 85 ? Severity::kWarning
                           : Severity::kOk;
  out->push_back({s, "volume",
                  fmt::format("{} is {:.1f}% full ({} of {} available)", v->path,
                              used, HumanBytes(static_cast<double>(v->avail_bytes)),
                              HumanBytes(static_cast<double>(v->size_bytes))),
                  s == Severity::kOk ? "" : "Free space: prune BuildKit's cache (buildctl prune --keep-storage) and remove dind leftovers, or grow the volume."});
}

// Add an assessor here.
constexpr void (*kAssessors[])(const Snapshot&, std::vector<Finding>*) = {
    &ProbeFailures,
    &VolumeUsage,
    &AssessMountsDindLogs,
};

}  // namespace

std::vector<Finding> Assess(const Snapshot& snapshot) {
  std::vector<Finding> out;
  for (auto* assessor : kAssessors) assessor(snapshot, &out);
  return out;
}

}  // namespace cachewarden
