#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitUnaccountedLarge: the scan finds more under BuildKit's directory than BuildKit's own
// DiskUsage counts, by more than `min_ratio` of the volume and `min_size`: bytes its GC never frees
// (metadata databases grown large, snapshots of records it lost: moby/buildkit#4218, #5459).
extern const RuleDef kBuildkitUnaccountedLarge;

struct UnaccountedInput {
  std::string path;
  std::uint64_t unaccounted_bytes = 0;
  std::uint64_t buildkit_dir_bytes = 0;  // the scan's buildkit group
  std::uint64_t counted_bytes = 0;       // BuildKit's DiskUsage total
  std::uint64_t volume_bytes = 0;
};

// Needs the volume's data, a scan of the last hour and a successful buildkit run.
std::optional<UnaccountedInput> ExtractUnaccounted(const Snapshot& s, SystemTime now);
void DecideUnaccounted(const UnaccountedInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
