#include "policies/alerts/alert_rules.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <type_traits>

#include "policies/gc/gc_episodes.h"
#include "probes/dind.h"
#include "probes/latency.h"
#include "probes/logs.h"
#include "probes/mounts.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr double kGiB = 1024.0 * 1024 * 1024;

// Ties a rule's extractor to its decider.
template <auto Extract, auto Decide>
bool Eval(const Snapshot& s, SystemTime now, const RuleConfig& c, std::vector<Candidate>* out) {
  auto in = [&] {
    if constexpr (std::is_invocable_v<decltype(Extract), const Snapshot&, SystemTime,
                                      const RuleConfig&>) {
      return Extract(s, now, c);
    } else {
      return Extract(s, now);
    }
  }();
  if (!in) return false;
  Decide(*in, c, out);
  return true;
}

constexpr Severity kWarn[] = {Severity::kWarning};
constexpr Severity kCrit[] = {Severity::kCritical};
constexpr Severity kBoth[] = {Severity::kWarning, Severity::kCritical};

constexpr RuleParam kUsageParams[] = {
    {"warning_percent", ParamKind::kPercent, 85},
    {"critical_percent", ParamKind::kPercent, 95},
    {"hysteresis_percent", ParamKind::kPercent, 2},
};
constexpr RuleParam kFillingParams[] = {
    {"warning_free_percent", ParamKind::kPercent, 40},
    {"warning_full_within", ParamKind::kDuration, 24 * 3600},
    {"critical_free_percent", ParamKind::kPercent, 20},
    {"critical_full_within", ParamKind::kDuration, 4 * 3600},
    {"hysteresis_percent", ParamKind::kPercent, 2},
};
constexpr RuleParam kLatencyParams[] = {
    {"warning_p99", ParamKind::kDuration, 0.1},
    {"critical_p99", ParamKind::kDuration, 1},
    {"window", ParamKind::kDuration, 300},
};
constexpr RuleParam kStaleParams[] = {{"max_age", ParamKind::kDuration, 600}};
constexpr RuleParam kWindowParams[] = {{"window", ParamKind::kDuration, 900}};
constexpr RuleParam kLeftoverParams[] = {
    {"max_size", ParamKind::kSize, 10 * kGiB},
    {"max_entries", ParamKind::kCount, 100},
};
constexpr RuleParam kGcParams[] = {{"trigger_held_for", ParamKind::kDuration, 900}};

// Add a rule here: one row, plus its input, extractor and decider.
constexpr RuleDef kRules[] = {
    {"CacheNotOnVolume",
     seconds(0),
     seconds(0),
     {},
     kBoth,
     true,
     &Eval<&ExtractNotOnVolume, &DecideNotOnVolume>},
    {"CacheDiskAlmostFull", minutes(2), minutes(5), kUsageParams, kBoth, true,
     &Eval<&ExtractDiskUsage, &DecideDiskAlmostFull>},
    {"CacheInodesAlmostFull", minutes(2), minutes(5), kUsageParams, kBoth, true,
     &Eval<&ExtractInodeUsage, &DecideInodesAlmostFull>},
    {"CacheDiskFillingUp", hours(1), minutes(10), kFillingParams, kBoth, true,
     &Eval<&ExtractFillingUp, &DecideFillingUp>},
    {"CacheIOLatencyHigh", minutes(5), minutes(5), kLatencyParams, kBoth, true,
     &Eval<&ExtractLatency, &DecideLatency>},
    {"DindStaleMounts", seconds(0), seconds(0), kStaleParams, kWarn, true,
     &Eval<&ExtractStaleMounts, &DecideStaleMounts>},
    {"DindCleanupResourceBusy", seconds(0), seconds(0), kWindowParams, kWarn, true,
     &Eval<&ExtractResourceBusy, &DecideResourceBusy>},
    {"DindLeftoversLarge", minutes(10), minutes(5), kLeftoverParams, kWarn, true,
     &Eval<&ExtractLeftovers, &DecideLeftovers>},
    {"BuildkitSnapshotterFallback",
     seconds(0),
     seconds(0),
     {},
     kWarn,
     true,
     &Eval<&ExtractSnapshotterFallback, &DecideSnapshotterFallback>},
    {"CacheGCIneffective", seconds(0), minutes(5), kGcParams, kWarn, true,
     &Eval<&ExtractGc, &DecideGcIneffective>},
    {"CacheIOErrors", seconds(0), seconds(0), kWindowParams, kCrit, true,
     &Eval<&ExtractIoErrors, &DecideIoErrors>},
    // `check` reports failing probes itself (as UNKNOWN), without waiting.
    {"CacheProbeFailing",
     minutes(5),
     minutes(1),
     {},
     kWarn,
     false,
     &Eval<&ExtractProbes, &DecideProbeFailing>},
};

}  // namespace

std::span<const RuleDef> RuleTable() { return kRules; }

const RuleDef* FindRule(std::string_view name) {
  for (const auto& r : kRules) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// ---- Extractors wired to probes that exist.

std::optional<NotOnVolumeInput> ExtractNotOnVolume(const Snapshot& s, SystemTime) {
  auto v = s.Get<VolumeData>();
  if (v == nullptr) return std::nullopt;
  NotOnVolumeInput in;
  in.path = v->path;
  in.readonly = v->readonly;
  if (auto m = s.Get<MountsData>()) {
    in.kind = std::string(MountKindName(m->verdict.kind));
    in.fstype = m->holder.fstype;
    in.readonly = in.readonly || m->verdict.readonly;
  }
  return in;
}

std::optional<UsageInput> ExtractDiskUsage(const Snapshot& s, SystemTime) {
  auto v = s.Get<VolumeData>();
  if (v == nullptr || v->size_bytes == 0) return std::nullopt;
  return UsageInput{v->path, v->UsedRatio() * 100,
                    static_cast<double>(v->size_bytes - v->free_bytes),
                    static_cast<double>(v->size_bytes)};
}

std::optional<UsageInput> ExtractInodeUsage(const Snapshot& s, SystemTime) {
  auto v = s.Get<VolumeData>();
  // Some filesystems (btrfs, overlay on some kernels) report no inode limit.
  if (v == nullptr || v->files == 0) return std::nullopt;
  return UsageInput{v->path, v->InodesUsedRatio() * 100,
                    static_cast<double>(v->files - v->files_free), static_cast<double>(v->files)};
}

std::optional<ProbesInput> ExtractProbes(const Snapshot& s, SystemTime) {
  ProbesInput in;
  if (auto v = s.Get<VolumeData>()) in.path = v->path;
  for (const auto& [name, r] : s.results()) {
    in.probes.push_back({name, !r.status.ok(), std::string(r.status.reason()), r.status.message(),
                         r.consecutive_failures});
  }
  return in;
}

// ---- Extractors of the other rules.

namespace {

// Seconds from `t` to `now`; kNever for the epoch (never happened).
double SecondsSince(SystemTime t, SystemTime now) {
  if (t == SystemTime{}) return kNever;
  return std::chrono::duration<double>(now - t).count();
}

LogEventInput LogEventOf(const LogsData& logs, LogEventKind kind, SystemTime now,
                         const std::string& path) {
  LogEventInput in;
  in.path = path;
  in.seconds_since_last = SecondsSince(logs.LastTime(kind), now);
  if (const LogEvent* e = logs.LastEvent(kind)) in.last_line = e->line;
  return in;
}

std::string CachePath(const Snapshot& s) {
  auto v = s.Get<VolumeData>();
  return v ? v->path : std::string();
}

}  // namespace

std::optional<FillingUpInput> ExtractFillingUp(const Snapshot& s, SystemTime) {
  auto v = s.Get<VolumeData>();
  if (v == nullptr || v->size_bytes == 0 || !v->bytes_growth.valid) return std::nullopt;
  FillingUpInput in;
  in.path = v->path;
  in.free_percent =
      100.0 * static_cast<double>(v->avail_bytes) / static_cast<double>(v->size_bytes);
  in.fill_rate_bytes_per_second = v->bytes_growth.rate_per_second;
  in.predicted_full_seconds =
      v->bytes_growth.rate_per_second > 0 ? v->bytes_growth.seconds_to_full : kNever;
  return in;
}

std::optional<LatencyInput> ExtractLatency(const Snapshot& s, SystemTime now, const RuleConfig& c) {
  auto l = s.Get<LatencyData>();
  if (l == nullptr) return std::nullopt;
  LatencyInput in;
  in.path = CachePath(s);
  const auto window =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(c.Param("window")));
  for (int op = 0; op < kOpCount; ++op) {
    if (auto p99 = WindowQuantile(*l, op, now - window, 0.99)) {
      in.p99_seconds.emplace_back(LatencyOpName(op), *p99);
    }
  }
  return in;
}

std::optional<StaleMountsInput> ExtractStaleMounts(const Snapshot& s, SystemTime) {
  auto d = s.Get<DindData>();
  if (d == nullptr) return std::nullopt;
  StaleMountsInput in;
  in.path = d->dirs.empty() ? CachePath(s) : d->dirs.front();
  // Only mounts that outlived their build: a long build's own mounts are not stale.
  for (const auto& m : d->mounts) {
    if (!m.stale) continue;
    in.mounts.push_back({m.mount.mount_point, std::chrono::duration<double>(m.seen_for).count()});
  }
  return in;
}

std::optional<LogEventInput> ExtractResourceBusy(const Snapshot& s, SystemTime now) {
  auto logs = s.Get<LogsData>();
  if (logs == nullptr) return std::nullopt;
  return LogEventOf(*logs, LogEventKind::kDindBusy, now, CachePath(s));
}

std::optional<LeftoversInput> ExtractLeftovers(const Snapshot& s, SystemTime) {
  auto d = s.Get<DindData>();
  if (d == nullptr) return std::nullopt;
  return LeftoversInput{d->dirs.empty() ? CachePath(s) : d->dirs.front(),
                        static_cast<double>(d->leftover_bytes),
                        static_cast<double>(d->leftover_entries)};
}

std::optional<FallbackInput> ExtractSnapshotterFallback(const Snapshot& s, SystemTime) {
  auto logs = s.Get<LogsData>();
  if (logs == nullptr) return std::nullopt;
  FallbackInput in;
  in.path = CachePath(s);
  in.fell_back = logs->snapshotter_fallback;
  if (in.fell_back) in.snapshotter = "native";
  return in;
}

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

// The probe's EIO and "input/output error" lines in the logs; either alone is enough (an agent
// without the logs or latency probe still sees the other).
std::optional<IoErrorsInput> ExtractIoErrors(const Snapshot& s, SystemTime now) {
  auto logs = s.Get<LogsData>();
  auto latency = s.Get<LatencyData>();
  if (logs == nullptr && s.Find(LatencyData::kProbe) == nullptr) return std::nullopt;
  IoErrorsInput in;
  in.path = CachePath(s);
  if (logs) in.seconds_since_log_error = SecondsSince(logs->LastTime(LogEventKind::kIoError), now);
  // The latest run's: a run without EIO clears it. A run that failed outright (say, EIO creating
  // its file) keeps older data: look at its error.
  if (const ProbeResult* r = s.Find(LatencyData::kProbe)) {
    in.probe_eio = r->status.ok() ? latency && latency->eio : r->status.error_number() == EIO;
  }
  return in;
}

}  // namespace cachewarden
