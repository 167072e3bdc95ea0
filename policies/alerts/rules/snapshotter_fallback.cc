#include "policies/alerts/rules/snapshotter_fallback.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"
#include "probes/logs.h"

namespace cachewarden {

constinit const RuleDef kBuildkitSnapshotterFallback = {
    .name = "BuildkitSnapshotterFallback",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = {},
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractSnapshotterFallback, &DecideSnapshotterFallback>,
};

std::optional<FallbackInput> ExtractSnapshotterFallback(const Snapshot& s, SystemTime) {
  auto logs = s.Get<LogsData>();
  if (logs == nullptr) return std::nullopt;
  FallbackInput in;
  in.path = CachePath(s);
  in.fell_back = logs->snapshotter_fallback;
  if (in.fell_back) in.snapshotter = "native";
  return in;
}

void DecideSnapshotterFallback(const FallbackInput& in, const RuleConfig&, RuleOutcome* out) {
  Candidate cand = MakeCandidate(Severity::kWarning, in.fell_back, false, in.fell_back ? 1 : 0);
  cand.summary = fmt::format("BuildKit fell back from overlayfs to the {} snapshotter on {}",
                             in.snapshotter.empty() ? "native" : in.snapshotter, in.path);
  cand.description = fmt::format(
      "overlayfs is not available for {}, so BuildKit copies every layer: builds are slow and the "
      "cache is several times larger. This happens when the cache is on a filesystem overlayfs "
      "cannot use as upperdir (the container's overlay root, NFS, FUSE): mount a real volume at "
      "{} and restart buildkitd.",
      in.path, in.path);
  out->candidates.push_back(std::move(cand));
}

}  // namespace cachewarden
