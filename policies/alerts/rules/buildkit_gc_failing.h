#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitGCFailing (warning): Earthly's fork's GC analytics say its GC is not doing its job: at
// least `failures` (default 1) of its recent runs failed (the fork keeps a count over a window of
// its latest runs, not an all-time one, so this clears once the failed runs leave the window), or
// a run is taking, or the latest run took, longer than `max_run` (default 5m: Earthly's own
// client warns past that). Only for servers that send the analytics. Labelled `worker`.
extern const RuleDef kBuildkitGCFailing;

struct GcFailingInput {
  std::string address;
  struct Worker {
    std::string id;
    std::int64_t recent_runs = 0;
    std::int64_t recent_failures = 0;
    bool last_failed = false;     // a finished run exists and it failed
    double running_seconds = 0;   // of the run in progress; 0 when none
    double last_run_seconds = 0;  // of the latest finished run; 0 when none
  };
  std::vector<Worker> workers;  // those with GC analytics
};

std::optional<GcFailingInput> ExtractGcFailing(const Snapshot& s, SystemTime now);
void DecideGcFailing(const GcFailingInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
