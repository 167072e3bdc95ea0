#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// CacheGCIneffective: a GC policy has found itself triggered for `trigger_held_for` and none of its
// runs freed anything (labelled `policy`). Reads the GC component's history, so only the daemon
// has it; `check` reports nothing.
extern const RuleDef kCacheGCIneffective;

struct GcInput {
  std::string path;
  // Each policy whose trigger holds.
  struct Policy {
    std::string name;
    double trigger_held_seconds = 0;  // without a run freeing anything
    double runs = 0;                  // since then
    double failed_runs = 0;
  };
  std::vector<Policy> policies;
};

// Needs the GcEpisodes fact.
std::optional<GcInput> ExtractGc(const Snapshot& s, SystemTime now);
void DecideGcIneffective(const GcInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
