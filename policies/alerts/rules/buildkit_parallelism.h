#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitParallelismSaturated (warning, after `for`, 10m by default): Earthly's fork says more
// than `waiting_above` (default 5, where Earthly's client warns of heavy load) build steps wait for
// a slot (all BUILDKIT_MAX_PARALLELISM are busy). Only for servers that send parallelism. Labelled
// `worker`.
extern const RuleDef kBuildkitParallelismSaturated;

struct ParallelismInput {
  std::string address;
  struct Worker {
    std::string id;
    std::int64_t current = 0, max = 0, waiting = 0;
  };
  std::vector<Worker> workers;  // those that report parallelism
};

std::optional<ParallelismInput> ExtractParallelism(const Snapshot& s, SystemTime now);
void DecideParallelism(const ParallelismInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
