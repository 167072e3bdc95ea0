#include "policies/alerts/rules/gc_ineffective.h"

#include <fmt/format.h>

#include <algorithm>

#include "policies/alerts/rule_support.h"
#include "policies/gc/gc_episodes.h"

namespace cachewarden {
namespace {

constexpr RuleParam kGcParams[] = {{"trigger_held_for", ParamKind::kDuration, 900}};

}  // namespace

constinit const RuleDef kCacheGCIneffective = {
    .name = "CacheGCIneffective",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::minutes(5),
    .params = kGcParams,
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractGc, &DecideGcIneffective>,
};

std::optional<GcInput> ExtractGc(const Snapshot& s, SystemTime now) {
  auto gc = s.GetFact<GcEpisodes>();
  if (gc == nullptr) return std::nullopt;
  GcInput in;
  in.path = CachePath(s);
  for (const auto& [name, e] : gc->episodes()) {
    in.policies.push_back({name, std::max(0.0, SecondsSince(e.since, now)),
                           static_cast<double>(e.runs), static_cast<double>(e.failed_runs)});
  }
  return in;
}

void DecideGcIneffective(const GcInput& in, const RuleConfig& c, RuleOutcome* out) {
  const double after = c.Param("trigger_held_for");
  for (const auto& p : in.policies) {
    Candidate cand =
        MakeCandidate(Severity::kWarning, p.trigger_held_seconds >= after && p.runs > 0, false,
                      p.trigger_held_seconds);
    cand.labels = {{"policy", p.name}};
    cand.summary = fmt::format("GC policy {} has been triggered for {} on {} and freed nothing",
                               p.name, DurationText(p.trigger_held_seconds), in.path);
    cand.description = fmt::format(
        "GC policy {} has wanted to free space on {} for {}, but its {:.0f} run(s) ({:.0f} failed) "
        "freed nothing. Either nothing matches its filters (everything is too young, open or "
        "holds a mount) or deletion fails: see the agent's log and `cachewarden gc --dry-run "
        "--policy {}`, widen the policy, or prune BuildKit by hand.",
        p.name, in.path, DurationText(p.trigger_held_seconds), p.runs, p.failed_runs, p.name);
    out->candidates.push_back(std::move(cand));
  }
}

}  // namespace cachewarden
