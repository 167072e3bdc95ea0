#include "probes/buildkit_earthly.h"

namespace cachewarden {

nlohmann::json GcAnalyticsJson(const BuildkitGcAnalytics& a) {
  auto at = [](const std::optional<SystemTime>& t) -> nlohmann::json {
    return t ? nlohmann::json(ToUnixSeconds(*t)) : nlohmann::json(nullptr);
  };
  return {{"recent_runs", a.recent_runs},
          {"recent_failures", a.recent_failures},
          {"avg_duration_seconds", ToSeconds(a.avg_duration)},
          {"all_time_runs", a.all_time_runs},
          {"all_time_max_duration_seconds", ToSeconds(a.all_time_max_duration)},
          {"running", a.current_start.has_value()},
          {"current_start_timestamp_seconds", at(a.current_start)},
          {"current_size_before_bytes", a.current_size_before},
          {"last_start_timestamp_seconds", at(a.last_start)},
          {"last_end_timestamp_seconds", at(a.last_end)},
          {"last_duration_seconds", ToSeconds(a.last_duration())},
          {"last_size_before_bytes", a.last_size_before},
          {"last_cleared_bytes", a.last_size_cleared},
          {"last_cleared_records", a.last_records_cleared},
          {"last_success", a.last_success}};
}

void ExportEarthlyWorkerMetrics(const std::vector<BuildkitWorker>& workers, MetricWriter& out) {
  struct ParallelismGauge {
    const char* name;
    const char* help;
    std::int64_t BuildkitParallelism::*field;
  };
  static constexpr ParallelismGauge kParallelism[] = {
      {"cachewarden_buildkit_parallelism_current", "Build steps running now (Earthly's fork).",
       &BuildkitParallelism::current},
      {"cachewarden_buildkit_parallelism_max",
       "Build steps that may run at once, BUILDKIT_MAX_PARALLELISM (Earthly's fork).",
       &BuildkitParallelism::max},
      {"cachewarden_buildkit_parallelism_waiting",
       "Build steps queued for a free slot (Earthly's fork).", &BuildkitParallelism::waiting},
  };
  for (const auto& g : kParallelism) {
    for (const auto& w : workers) {
      if (!w.parallelism) continue;
      out.Gauge(g.name, g.help, static_cast<double>((*w.parallelism).*g.field), {{"worker", w.id}});
    }
  }
  struct AnalyticsGauge {
    const char* name;
    const char* help;
    double (*value)(const BuildkitGcAnalytics&);
    bool needs_last_run;  // only once the GC has finished a run
  };
  static constexpr AnalyticsGauge kAnalytics[] = {
      {"cachewarden_buildkit_gc_runs",
       "BuildKit GC runs since buildkitd started (Earthly's fork's GC analytics).",
       [](const BuildkitGcAnalytics& a) { return static_cast<double>(a.all_time_runs); }, false},
      {"cachewarden_buildkit_gc_recent_runs",
       "BuildKit GC runs the fork's recent figures cover (its window of latest runs).",
       [](const BuildkitGcAnalytics& a) { return static_cast<double>(a.recent_runs); }, false},
      {"cachewarden_buildkit_gc_recent_failures",
       "BuildKit GC runs that failed among its recent runs (Earthly's fork's GC analytics).",
       [](const BuildkitGcAnalytics& a) { return static_cast<double>(a.recent_failures); }, false},
      {"cachewarden_buildkit_gc_avg_duration_seconds",
       "Average duration of BuildKit's recent GC runs (Earthly's fork).",
       [](const BuildkitGcAnalytics& a) { return ToSeconds(a.avg_duration); }, false},
      {"cachewarden_buildkit_gc_max_duration_seconds",
       "Longest BuildKit GC run since buildkitd started (Earthly's fork).",
       [](const BuildkitGcAnalytics& a) { return ToSeconds(a.all_time_max_duration); }, false},
      {"cachewarden_buildkit_gc_current_start_timestamp_seconds",
       "When the BuildKit GC run in progress started; 0 when none runs (Earthly's fork).",
       [](const BuildkitGcAnalytics& a) {
         return a.current_start ? ToUnixSeconds(*a.current_start) : 0.0;
       },
       false},
      {"cachewarden_buildkit_gc_last_duration_seconds",
       "How long BuildKit's latest finished GC run took (Earthly's fork).",
       [](const BuildkitGcAnalytics& a) { return ToSeconds(a.last_duration()); }, true},
      {"cachewarden_buildkit_gc_last_end_timestamp_seconds",
       "When BuildKit's latest GC run ended (Earthly's fork).",
       [](const BuildkitGcAnalytics& a) { return a.last_end ? ToUnixSeconds(*a.last_end) : 0.0; },
       true},
      {"cachewarden_buildkit_gc_last_success",
       "1 if BuildKit's latest finished GC run succeeded, 0 if it failed (Earthly's fork).",
       [](const BuildkitGcAnalytics& a) { return a.last_success ? 1.0 : 0.0; }, true},
      {"cachewarden_buildkit_gc_last_size_before_bytes",
       "BuildKit's cache size when its latest GC run started (Earthly's fork).",
       [](const BuildkitGcAnalytics& a) { return static_cast<double>(a.last_size_before); }, true},
      {"cachewarden_buildkit_gc_last_cleared_bytes",
       "Bytes BuildKit's latest GC run freed (Earthly's fork).",
       [](const BuildkitGcAnalytics& a) { return static_cast<double>(a.last_size_cleared); }, true},
  };
  for (const auto& g : kAnalytics) {
    for (const auto& w : workers) {
      if (!w.gc_analytics || (g.needs_last_run && !w.gc_analytics->last_start)) continue;
      out.Gauge(g.name, g.help, g.value(*w.gc_analytics), {{"worker", w.id}});
    }
  }
}

}  // namespace cachewarden
