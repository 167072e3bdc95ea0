#pragma once

#include <optional>
#include <string>

#include "policies/alerts/rule.h"
#include "policies/alerts/rule_support.h"

namespace cachewarden {

// CacheDiskFillingUp: little space is free and, at the volume probe's fill rate, the filesystem is
// full soon (both conditions, at each severity's thresholds).
extern const RuleDef kCacheDiskFillingUp;

struct FillingUpInput {
  std::string path;
  double free_percent = 100;               // avail / size, 0..100
  double predicted_full_seconds = kNever;  // linear prediction; kNever if not filling
  double fill_rate_bytes_per_second = 0;
};

// Needs the volume probe's growth estimate, which needs history (none in a one-shot `check`).
std::optional<FillingUpInput> ExtractFillingUp(const Snapshot& s, SystemTime now);
void DecideFillingUp(const FillingUpInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
