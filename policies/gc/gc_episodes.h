#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "policies/gc/gc_result.h"
#include "probes/snapshot.h"

namespace cachewarden {

// For each GC policy whose trigger holds: since when it has held without a run freeing anything,
// and how its runs went since. What CacheGCIneffective decides on. A run that frees space starts
// the count again; a run that finds the policy not triggered (or a dry run) ends it.
struct GcTriggerEpisode {
  SystemTime since{};  // the first run of the episode started
  int runs = 0;
  int failed_runs = 0;
};

// What an episode needs to know of one finished run.
struct GcRunSummary {
  std::string policy;
  GcResult result = GcResult::kNotTriggered;
  std::uint64_t freed_bytes = 0;
  SystemTime started{}, finished{};
};

class GcEpisodes : public Fact {
 public:
  static constexpr std::string_view kFact = "gc";

  void Record(const GcRunSummary& run);
  // Forgets policies not in `policies` (after a reload).
  void Keep(const std::vector<std::string>& policies);
  const std::map<std::string, GcTriggerEpisode>& episodes() const { return episodes_; }

 private:
  std::map<std::string, GcTriggerEpisode> episodes_;
};

}  // namespace cachewarden
