#include "policies/alerts/rules/buildkit_parallelism.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"
#include "probes/buildkit.h"

namespace cachewarden {
namespace {

constexpr RuleParam kParams[] = {{"waiting_above", ParamKind::kCount, 5}};

}  // namespace

constinit const RuleDef kBuildkitParallelismSaturated = {
    .name = "BuildkitParallelismSaturated",
    .default_for = std::chrono::minutes(10),
    .default_keep_firing_for = std::chrono::minutes(2),
    .params = kParams,
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractParallelism, &DecideParallelism>,
};

std::optional<ParallelismInput> ExtractParallelism(const Snapshot& s, SystemTime) {
  auto bk = s.Get<BuildkitData>();
  if (bk == nullptr) return std::nullopt;
  ParallelismInput in;
  in.address = bk->address;
  for (const auto& w : bk->workers) {
    if (!w.parallelism) continue;
    in.workers.push_back(
        {w.id, w.parallelism->current, w.parallelism->max, w.parallelism->waiting});
  }
  if (in.workers.empty()) return std::nullopt;  // not Earthly's fork: nothing to judge
  return in;
}

void DecideParallelism(const ParallelismInput& in, const RuleConfig& c, RuleOutcome* out) {
  const double above = c.Param("waiting_above");
  bool any = false;
  for (const auto& w : in.workers) {
    const bool fires = static_cast<double>(w.waiting) > above;
    Candidate cand =
        MakeCandidate(Severity::kWarning, fires, false, static_cast<double>(w.waiting));
    cand.labels = {{"worker", w.id}};
    cand.summary = fmt::format("{} build steps wait for a slot at BuildKit {} ({} of {} running)",
                               w.waiting, in.address, w.current, w.max);
    cand.description = fmt::format(
        "BuildKit at {} (worker {}) runs {} build steps, its limit of {} "
        "(BUILDKIT_MAX_PARALLELISM), and {} more wait (more than {}): builds queue and slow down. "
        "Raise BUILDKIT_MAX_PARALLELISM if the machine has CPU and memory to spare (watch "
        "BuildkitOOMKilled), or spread builds over more buildkitd instances.",
        in.address, w.id, w.current, w.max, w.waiting, above);
    out->candidates.push_back(std::move(cand));
    any = any || fires;
  }
  if (!any) {
    const auto& w = in.workers.front();
    out->ok_summary = fmt::format("BuildKit at {}: {} of {} build slots busy, {} waiting",
                                  in.address, w.current, w.max, w.waiting);
  }
}

}  // namespace cachewarden
