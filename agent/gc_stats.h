#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actions/gc_run.h"
#include "base/metric_writer.h"

namespace cachewarden {

// The garbage collector's cumulative counters and last results, per policy:
// what /metrics and /status show. Counters survive reloads (a policy keeps its series while its
// name stays). Thread-safe.
class GcStats {
 public:
  // Makes the policies' series exist (at zero) before their first run.
  void Declare(const std::vector<std::string>& policies);
  void Record(const GcRunResult& run);
  // A tick found the previous run still going and started nothing.
  void RecordBusy(const std::string& policy);

  // cachewarden_gc_* (see docs/config.md, "gc").
  void ExportMetrics(MetricWriter& out) const;
  // {"policies": {name: {last run...}}}
  nlohmann::json ToJson() const;

 private:
  struct PolicyStats {
    std::map<GcResult, std::uint64_t> runs;
    std::uint64_t freed_bytes = 0;
    std::uint64_t deleted_entries = 0;
    std::map<SkipReason, std::uint64_t> skipped;
    std::uint64_t busy = 0;
    double last_run = 0;  // unix seconds, 0: never
    std::uint64_t last_freed = 0;
    std::uint64_t last_future_mtime = 0;  // entries of the last plan with a future time
    std::optional<GcResult> last_result;
    std::optional<int> command_exit_code;
    nlohmann::json last;  // the last run's plan and outcome
  };
  mutable std::mutex mutex_;
  std::map<std::string, PolicyStats> policies_;
};

}  // namespace cachewarden
