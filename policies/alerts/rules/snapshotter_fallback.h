#pragma once

#include <optional>
#include <string>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitSnapshotterFallback: buildkitd logged that the overlayfs snapshotter is not available
// (until its next start banner): it copies every layer instead.
extern const RuleDef kBuildkitSnapshotterFallback;

struct FallbackInput {
  std::string path;
  bool fell_back = false;
  std::string snapshotter;  // what BuildKit uses now ("native"), if known
};

// Needs the logs probe's data.
std::optional<FallbackInput> ExtractSnapshotterFallback(const Snapshot& s, SystemTime now);
void DecideSnapshotterFallback(const FallbackInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
