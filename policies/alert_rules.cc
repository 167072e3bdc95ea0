#include "policies/alert_rules.h"

#include <chrono>

#include "probes/volume.h"

namespace cachewarden {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr double kGiB = 1024.0 * 1024 * 1024;

// Ties a rule's extractor to its decider.
template <auto Extract, auto Decide>
bool Eval(const Snapshot& s, SystemTime now, const RuleConfig& c,
          std::vector<Candidate>* out) {
  auto in = Extract(s, now);
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
    {"CacheNotOnVolume", seconds(0), seconds(0), {}, kBoth, true,
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
    {"BuildkitSnapshotterFallback", seconds(0), seconds(0), {}, kWarn, true,
     &Eval<&ExtractSnapshotterFallback, &DecideSnapshotterFallback>},
    {"CacheGCIneffective", seconds(0), minutes(5), kGcParams, kWarn, true,
     &Eval<&ExtractGc, &DecideGcIneffective>},
    {"CacheIOErrors", seconds(0), seconds(0), kWindowParams, kCrit, true,
     &Eval<&ExtractIoErrors, &DecideIoErrors>},
    // `check` reports failing probes itself (as UNKNOWN), without waiting.
    {"CacheProbeFailing", minutes(5), minutes(1), {}, kWarn, false,
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
  // TODO(merge): kind and fstype from the mounts probe's verdict.
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
                    static_cast<double>(v->files - v->files_free),
                    static_cast<double>(v->files)};
}

std::optional<ProbesInput> ExtractProbes(const Snapshot& s, SystemTime) {
  ProbesInput in;
  for (const auto& [name, r] : s.results()) {
    in.probes.push_back({name, !r.status.ok(), r.status.reason(), r.status.message(),
                         r.consecutive_failures});
  }
  return in;
}

// ---- Extractors whose probes are not built in yet: the rule stays silent
// (its alerts keep their state) until each is wired to its probe's data.

// TODO(merge): from the volume probe's fill-rate prediction.
std::optional<FillingUpInput> ExtractFillingUp(const Snapshot&, SystemTime) { return std::nullopt; }
// TODO(merge): from the latency probe's per-op p99 over its window.
std::optional<LatencyInput> ExtractLatency(const Snapshot&, SystemTime) { return std::nullopt; }
// TODO(merge): from the mounts/dind probe's mounts under the dind directories.
std::optional<StaleMountsInput> ExtractStaleMounts(const Snapshot&, SystemTime) { return std::nullopt; }
// TODO(merge): from the logs probe's last "Resource busy" event.
std::optional<LogEventInput> ExtractResourceBusy(const Snapshot&, SystemTime) { return std::nullopt; }
// TODO(merge): from the dind probe's leftover bytes and entries.
std::optional<LeftoversInput> ExtractLeftovers(const Snapshot&, SystemTime) { return std::nullopt; }
// TODO(merge): from the logs probe's snapshotter_fallback events.
std::optional<FallbackInput> ExtractSnapshotterFallback(const Snapshot&, SystemTime) { return std::nullopt; }
// TODO(merge): from the gc component's trigger and run history.
std::optional<GcInput> ExtractGc(const Snapshot&, SystemTime) { return std::nullopt; }
// TODO(merge): from the latency probe's EIO and the logs probe's io_error events.
std::optional<IoErrorsInput> ExtractIoErrors(const Snapshot&, SystemTime) { return std::nullopt; }

}  // namespace cachewarden
