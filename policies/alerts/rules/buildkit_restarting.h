#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitRestarting (warning): buildkitd restarted at least `restart_threshold` times within
// `restart_window` (probes.buildkitd's settings, the one place they are set): a crash loop. Label
// `source`: "process" when the buildkitd probe sees the process, else "logs" (the restarts the
// logs probe counts from start banners), as the two Prometheus rules of that name.
extern const RuleDef kBuildkitRestarting;

struct RestartInput {
  std::string source;  // "process" or "logs"
  std::size_t restarts_in_window = 0;
  std::uint64_t restarts = 0;  // since the agent started
  double window_seconds = 0;
  std::int64_t threshold = 0;
};

// Needs the buildkitd probe's data with a visible process, or else the logs probe's data.
std::optional<RestartInput> ExtractRestarting(const Snapshot& s, SystemTime now);
void DecideRestarting(const RestartInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
