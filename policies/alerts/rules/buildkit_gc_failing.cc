#include "policies/alerts/rules/buildkit_gc_failing.h"

#include <fmt/format.h>

#include <algorithm>

#include "policies/alerts/rule_support.h"
#include "probes/buildkit.h"

namespace cachewarden {
namespace {

constexpr RuleParam kParams[] = {
    {"failures", ParamKind::kCount, 1},
    {"max_run", ParamKind::kDuration, 300},
};

}  // namespace

constinit const RuleDef kBuildkitGCFailing = {
    .name = "BuildkitGCFailing",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::minutes(5),
    .params = kParams,
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractGcFailing, &DecideGcFailing>,
};

std::optional<GcFailingInput> ExtractGcFailing(const Snapshot& s, SystemTime now) {
  auto bk = s.Get<BuildkitData>();
  if (bk == nullptr) return std::nullopt;
  GcFailingInput in;
  in.address = bk->address;
  for (const auto& w : bk->workers) {
    if (!w.gc_analytics) continue;
    const BuildkitGcAnalytics& a = *w.gc_analytics;
    GcFailingInput::Worker wi;
    wi.id = w.id;
    wi.recent_runs = a.recent_runs;
    wi.recent_failures = a.recent_failures;
    wi.last_failed = a.last_start.has_value() && !a.last_success;
    if (a.current_start) wi.running_seconds = std::max(0.0, SecondsSince(*a.current_start, now));
    wi.last_run_seconds = ToSeconds(a.last_duration());
    in.workers.push_back(std::move(wi));
  }
  if (in.workers.empty()) return std::nullopt;  // not Earthly's fork: nothing to judge
  return in;
}

void DecideGcFailing(const GcFailingInput& in, const RuleConfig& c, RuleOutcome* out) {
  const double failures = c.Param("failures");
  const double max_run = c.Param("max_run");
  bool any = false;
  for (const auto& w : in.workers) {
    const bool failing = static_cast<double>(w.recent_failures) >= failures;
    const bool slow_now = w.running_seconds > max_run;
    const bool slow_last = w.last_run_seconds > max_run;
    const bool fires = failing || slow_now || slow_last;
    Candidate cand =
        MakeCandidate(Severity::kWarning, fires, false, static_cast<double>(w.recent_failures));
    cand.labels = {{"worker", w.id}};
    std::string why;
    if (failing) {
      why = fmt::format("{} of its last {} runs failed", w.recent_failures, w.recent_runs);
    } else if (slow_now) {
      why = fmt::format("a run has been going for {}", DurationText(w.running_seconds));
    } else {
      why = fmt::format("its latest run took {}", DurationText(w.last_run_seconds));
    }
    cand.summary =
        fmt::format("BuildKit's GC at {} (worker {}) is failing: {}", in.address, w.id, why);
    cand.description = fmt::format(
        "BuildKit's own garbage collection at {} (worker {}): {} (limits: {} failed run(s), runs "
        "of {}). A GC that fails or crawls does not keep the cache under its cap, and a long run "
        "holds BuildKit's cache lock, stalling builds. Look for GC errors in buildkitd's log "
        "(CacheIOErrors, BuildkitCacheCorrupted), free space through BuildKit (`buildctl prune`, "
        "`earthly prune`, or cachewarden's prune GC action), and lower the cache size "
        "(CACHE_SIZE_MB / CACHE_SIZE_PCT) so each run has less to do.",
        in.address, w.id, why, failures, DurationText(max_run));
    out->candidates.push_back(std::move(cand));
    any = any || fires;
  }
  if (!any) {
    const auto& w = in.workers.front();
    out->ok_summary =
        fmt::format("BuildKit's GC at {}: {} of its last {} runs failed, the latest took {}",
                    in.address, w.recent_failures, w.recent_runs, DurationText(w.last_run_seconds));
  }
}

}  // namespace cachewarden
