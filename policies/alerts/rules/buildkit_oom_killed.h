#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitOOMKilled (critical): the kernel OOM-killed a process in buildkitd's memory cgroup within
// the rule's `window` (the buildkitd probe saw the cgroup's oom_kill count rise), as the Prometheus
// rule's increase(cachewarden_buildkit_oom_kills_total[15m]) > 0.
extern const RuleDef kBuildkitOOMKilled;

struct OomInput {
  double seconds_since_last = 0;  // kNever: none seen
  std::uint64_t kills = 0;        // seen since the agent started
  bool present = false;           // a buildkitd process is visible
  // Of the first visible process (slot 0), when known.
  std::optional<std::uint64_t> resident_bytes, limit_bytes, usage_bytes;
};

// Needs the buildkitd probe's data.
std::optional<OomInput> ExtractOomKilled(const Snapshot& s, SystemTime now);
void DecideOomKilled(const OomInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
