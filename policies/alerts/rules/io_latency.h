#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// CacheIOLatencyHigh: the latency probe's p99 of one operation, over the rule's `window`, is above
// `warning_p99` or `critical_p99` (labelled `op`); it holds until p99 drops below 80% of the
// threshold.
extern const RuleDef kCacheIOLatencyHigh;

struct LatencyInput {
  std::string path;
  // Per operation ("read", "write", "fsync", "metadata": the `op` label): p99 over the rule's
  // window, in seconds; an op without samples in the window is left out.
  std::vector<std::pair<std::string, double>> p99_seconds;
};

// Needs the latency probe's data; p99 of each op's samples within the rule's `window`.
std::optional<LatencyInput> ExtractLatency(const Snapshot& s, SystemTime now,
                                           const RuleConfig& config);
void DecideLatency(const LatencyInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
