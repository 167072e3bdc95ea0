#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// CacheProbeFailing: a probe's latest run failed (labelled `probe`), so its figures are stale and
// the rules built on them cannot fire. A warning for Alertmanager after `for`; `check`, a
// monitoring plugin that could not look, reports it as UNKNOWN at once (RuleDef::unknown_in_check).
extern const RuleDef kCacheProbeFailing;

struct ProbesInput {
  std::string path;  // the cache, when known
  struct Probe {
    std::string name;
    bool failing = false;
    std::string reason;
    std::string error;
    int consecutive_failures = 0;
  };
  std::vector<Probe> probes;  // every probe that has run
};

// Always known: the probe results themselves.
std::optional<ProbesInput> ExtractProbes(const Snapshot& s, SystemTime now);
void DecideProbeFailing(const ProbesInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
