#include "agent/gc_stats.h"

namespace cachewarden {

void GcStats::Declare(const std::vector<std::string>& policies) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& p : policies) policies_[p];
}

void GcStats::Record(const GcRunResult& run) {
  std::lock_guard<std::mutex> lock(mutex_);
  PolicyStats& s = policies_[run.policy];
  s.runs[run.result]++;
  s.freed_bytes += run.freed_bytes;
  s.deleted_entries += run.deleted_entries;
  for (const auto& [reason, n] : run.skipped) s.skipped[reason] += n;
  s.last_run = ToUnixSeconds(run.finished);
  s.last_freed = run.freed_bytes;
  s.last_future_mtime = run.plan.future_mtime_entries;
  s.last_result = run.result;
  if (run.command_exit_code) s.command_exit_code = run.command_exit_code;
  s.last = run.ToJson();
}

void GcStats::RecordBusy(const std::string& policy) {
  std::lock_guard<std::mutex> lock(mutex_);
  policies_[policy].busy++;
}

void GcStats::ExportMetrics(MetricWriter& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, s] : policies_) {
    for (const auto& [result, label] : kGcResultNames) {
      auto it = s.runs.find(result);
      out.Counter("cachewarden_gc_runs_total", "Garbage-collection runs by policy and result.",
                  it == s.runs.end() ? 0.0 : static_cast<double>(it->second),
                  {{"policy", name}, {"result", std::string(label)}});
    }
    out.Counter("cachewarden_gc_freed_bytes_total",
                "Bytes freed by garbage collection (measured size of deleted entries, and what "
                "went of entries deleted in part; for a command, the growth of available space).",
                static_cast<double>(s.freed_bytes), {{"policy", name}});
    out.Counter("cachewarden_gc_deleted_entries_total", "Entries deleted by garbage collection.",
                static_cast<double>(s.deleted_entries), {{"policy", name}});
    for (SkipReason r : kAllSkipReasons) {
      auto it = s.skipped.find(r);
      out.Counter("cachewarden_gc_skipped_entries_total",
                  "Entries a triggered policy did not delete, by reason.",
                  it == s.skipped.end() ? 0.0 : static_cast<double>(it->second),
                  {{"policy", name}, {"reason", std::string(ToString(r))}});
    }
    out.Counter("cachewarden_gc_busy_skips_total",
                "Policy ticks that found a GC run still going (the policy ran after it).",
                static_cast<double>(s.busy), {{"policy", name}});
    if (s.last_run > 0) {
      out.Gauge("cachewarden_gc_last_run_timestamp_seconds", "When the policy's last run ended.",
                s.last_run, {{"policy", name}});
      out.Gauge("cachewarden_gc_last_freed_bytes", "Bytes freed by the policy's last run.",
                static_cast<double>(s.last_freed), {{"policy", name}});
      out.Gauge("cachewarden_gc_future_mtime_entries",
                "Entries of the policy's last plan whose newest time lies more than 5 minutes in "
                "the future (aged by their ctime instead).",
                static_cast<double>(s.last_future_mtime), {{"policy", name}});
      for (const auto& [result, label] : kGcResultNames) {
        out.Gauge("cachewarden_gc_last_result",
                  "1 for the result of the policy's last run (freed_nothing: triggered but nothing "
                  "freed), 0 for the others.",
                  s.last_result == result ? 1.0 : 0.0,
                  {{"policy", name}, {"result", std::string(label)}});
      }
    }
    if (s.command_exit_code) {
      out.Gauge(
          "cachewarden_gc_command_exit_code",
          "Exit code of the policy's last command (128+N: killed by signal N; -1: did not start).",
          *s.command_exit_code, {{"policy", name}});
    }
  }
}

nlohmann::json GcStats::ToJson() const {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, s] : policies_) {
    nlohmann::json runs = nlohmann::json::object();
    for (const auto& [result, n] : s.runs) runs[std::string(ToString(result))] = n;
    out[name] = {{"runs", runs},
                 {"freed_bytes_total", s.freed_bytes},
                 {"deleted_entries_total", s.deleted_entries},
                 {"last_result",
                  s.last_result ? nlohmann::json(ToString(*s.last_result)) : nlohmann::json()},
                 {"last_run", s.last.is_null() ? nlohmann::json() : s.last}};
  }
  return {{"policies", out}};
}

}  // namespace cachewarden
