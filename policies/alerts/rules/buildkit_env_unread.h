#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitEnvUnread (warning): buildkitd's environment has a variable that looks like one Earthly's
// entrypoint reads (CACHE_SIZE_MB, ...) but is not read by anything, so the setting meant is not in
// effect (EarthBuild's chart sets BUILDKIT_CACHE_MAX_SIZE_MB).
extern const RuleDef kBuildkitEnvUnread;

struct EnvUnreadInput {
  // "BUILDKIT_CACHE_MAX_SIZE_MB (did you mean CACHE_SIZE_MB?)", one per variable; names only.
  std::vector<std::string> hints;
  std::size_t readable = 0;  // processes whose environ could be read
};

// Needs the buildkitd probe's data.
std::optional<EnvUnreadInput> ExtractEnvUnread(const Snapshot& s, SystemTime now);
void DecideEnvUnread(const EnvUnreadInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
