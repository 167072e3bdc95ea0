#pragma once

#include <optional>
#include <string>

#include "policies/alerts/rule.h"
#include "policies/alerts/rule_support.h"

namespace cachewarden {

// CacheIOErrors: the disk under the cache returns EIO, seen by the latency probe's latest run
// (labelled source="probe") or as "input/output error" in buildkitd's log within `window`
// (source="logs"), as the Prometheus rules label theirs. Critical: the bolt databases get
// corrupted.
extern const RuleDef kCacheIOErrors;

struct IoErrorsInput {
  std::string path;
  bool probe_eio = false;                   // the latest active I/O probe got EIO
  double seconds_since_log_error = kNever;  // "input/output error" in the logs
};

// Needs the latency probe's result or the logs probe's data; either alone is enough.
std::optional<IoErrorsInput> ExtractIoErrors(const Snapshot& s, SystemTime now);
void DecideIoErrors(const IoErrorsInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
