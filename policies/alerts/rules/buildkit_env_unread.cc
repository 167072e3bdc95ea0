#include "policies/alerts/rules/buildkit_env_unread.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "policies/alerts/rule_support.h"
#include "probes/buildkitd.h"

namespace cachewarden {

constinit const RuleDef kBuildkitEnvUnread = {
    .name = "BuildkitEnvUnread",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = {},
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractEnvUnread, &DecideEnvUnread>,
};

std::optional<EnvUnreadInput> ExtractEnvUnread(const Snapshot& s, SystemTime) {
  auto d = s.Get<BuildkitdData>();
  if (d == nullptr) return std::nullopt;
  EnvUnreadInput in;
  for (const auto& p : d->processes) {
    in.readable += p.environ_readable ? 1 : 0;
    for (const auto& h : p.environment.hints) {
      std::string text = fmt::format("{} (did you mean {}?)", h.name, h.did_you_mean);
      if (std::find(in.hints.begin(), in.hints.end(), text) == in.hints.end()) {
        in.hints.push_back(std::move(text));
      }
    }
  }
  return in;
}

void DecideEnvUnread(const EnvUnreadInput& in, const RuleConfig&, RuleOutcome* out) {
  const bool any = !in.hints.empty();
  Candidate cand =
      MakeCandidate(Severity::kWarning, any, any, static_cast<double>(in.hints.size()));
  cand.summary = fmt::format("buildkitd's environment sets {} variable(s) nothing reads: {}",
                             in.hints.size(), fmt::join(in.hints, ", "));
  cand.description = fmt::format(
      "Earthly's buildkitd entrypoint does not read {}, so the setting meant is not in effect "
      "(EarthBuild's chart sets BUILDKIT_CACHE_MAX_SIZE_MB, which nothing reads: BuildKit's GC "
      "size comes from CACHE_SIZE_MB or CACHE_SIZE_PCT). Rename the variable and restart "
      "buildkitd.",
      fmt::join(in.hints, ", "));
  out->candidates.push_back(std::move(cand));
  if (in.readable > 0) {
    out->ok_summary =
        "buildkitd's environment has no lookalike of the variables its entrypoint reads";
  }
}

}  // namespace cachewarden
