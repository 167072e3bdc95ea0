#include "policies/alerts/rules/probe_failing.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"

namespace cachewarden {

constinit const RuleDef kCacheProbeFailing = {
    .name = "CacheProbeFailing",
    .default_for = std::chrono::minutes(5),
    .default_keep_firing_for = std::chrono::minutes(1),
    .params = {},
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractProbes, &DecideProbeFailing>,
    .unknown_in_check = true,
};

std::optional<ProbesInput> ExtractProbes(const Snapshot& s, SystemTime) {
  ProbesInput in;
  in.path = CachePath(s);
  for (const auto& [name, r] : s.results()) {
    in.probes.push_back({name, !r.status.ok(), std::string(r.status.reason()), r.status.message(),
                         r.consecutive_failures});
  }
  return in;
}

void DecideProbeFailing(const ProbesInput& in, const RuleConfig&, RuleOutcome* out) {
  const std::string on = in.path.empty() ? "" : " on " + in.path;
  std::size_t failing = 0;
  for (const auto& p : in.probes) {
    Candidate cand = MakeCandidate(Severity::kWarning, p.failing, false, p.consecutive_failures);
    cand.labels = {{"probe", p.name}};
    cand.summary =
        fmt::format("cachewarden's {} probe{} is failing ({}: {})", p.name, on, p.reason, p.error);
    cand.description = fmt::format(
        "The {} probe{} failed {} time(s) in a row ({}: {}). Its figures are stale and the alerts "
        "built on them cannot fire. A \"timeout\" usually means a hung filesystem; \"permission\" "
        "a missing capability or mount in the agent's pod.",
        p.name, on, p.consecutive_failures, p.reason, p.error);
    out->candidates.push_back(std::move(cand));
    failing += p.failing ? 1 : 0;
  }
  if (!in.probes.empty() && failing == 0) {
    out->ok_summary = fmt::format("All {} probes succeeded", in.probes.size());
  }
}

}  // namespace cachewarden
