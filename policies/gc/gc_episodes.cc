#include "policies/gc/gc_episodes.h"

#include <algorithm>

namespace cachewarden {

void GcEpisodes::Record(const GcRunSummary& run) {
  if (run.result == GcResult::kNotTriggered || run.result == GcResult::kDryRun) {
    episodes_.erase(run.policy);
    return;
  }
  if (run.result == GcResult::kCancelled) return;  // a reload or shutdown, not a verdict
  if (run.freed_bytes > 0) {
    episodes_[run.policy] = GcTriggerEpisode{run.finished, 0, 0};
    return;
  }
  auto [it, fresh] = episodes_.try_emplace(run.policy);
  GcTriggerEpisode& e = it->second;
  if (fresh) e.since = run.started;
  e.runs++;
  if (run.result == GcResult::kFailed) e.failed_runs++;
}

void GcEpisodes::Keep(const std::vector<std::string>& policies) {
  std::erase_if(episodes_, [&](const auto& kv) {
    return std::find(policies.begin(), policies.end(), kv.first) == policies.end();
  });
}

}  // namespace cachewarden
