#include "policies/alerts/rules/almost_full.h"

#include <fmt/format.h>

#include "base/units.h"
#include "policies/alerts/rule_support.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;

constexpr RuleParam kUsageParams[] = {
    {"warning_percent", ParamKind::kPercent, 85},
    {"critical_percent", ParamKind::kPercent, 95},
    {"hysteresis_percent", ParamKind::kPercent, 2},
};

enum class Figure { kBytes, kInodes };

// A percentage of something used, at the warning and critical thresholds.
void Usage(const UsageInput& in, const RuleConfig& c, Figure what, std::string_view remedy,
           RuleOutcome* out) {
  const double margin = c.Param("hysteresis_percent");
  const bool bytes = what == Figure::kBytes;
  for (auto [sev, key] : {std::pair{Severity::kWarning, "warning_percent"},
                          std::pair{Severity::kCritical, "critical_percent"}}) {
    const double threshold = c.Param(key);
    Candidate cand = MakeCandidate(sev, in.used_percent > threshold,
                                   in.used_percent > threshold - margin, in.used_percent);
    cand.summary =
        bytes
            ? fmt::format("The cache filesystem at {} is {:.1f}% full (above {:g}%)", in.path,
                          in.used_percent, threshold)
            : fmt::format("The cache filesystem at {} has {:.1f}% of its inodes used (above {:g}%)",
                          in.path, in.used_percent, threshold);
    cand.description = fmt::format(
        "{:.1f}% of the {} on the filesystem holding {} are used ({} of {}). BuildKit fails with "
        "\"no space left on device\" when it runs out. {}",
        in.used_percent, bytes ? "bytes" : "inodes", in.path,
        bytes ? HumanBytes(in.used) : fmt::format("{:.0f}", in.used),
        bytes ? HumanBytes(in.total) : fmt::format("{:.0f} inodes", in.total), remedy);
    out->candidates.push_back(std::move(cand));
  }
}

}  // namespace

constinit const RuleDef kCacheDiskAlmostFull = {
    .name = "CacheDiskAlmostFull",
    .default_for = minutes(2),
    .default_keep_firing_for = minutes(5),
    .params = kUsageParams,
    .severities = kWarningAndCritical,
    .eval = &EvalOf<&ExtractDiskUsage, &DecideDiskAlmostFull>,
};

constinit const RuleDef kCacheInodesAlmostFull = {
    .name = "CacheInodesAlmostFull",
    .default_for = minutes(2),
    .default_keep_firing_for = minutes(5),
    .params = kUsageParams,
    .severities = kWarningAndCritical,
    .eval = &EvalOf<&ExtractInodeUsage, &DecideInodesAlmostFull>,
};

std::optional<UsageInput> ExtractDiskUsage(const Snapshot& s, SystemTime) {
  auto v = s.Get<VolumeData>();
  if (v == nullptr || v->size_bytes == 0) return std::nullopt;
  return UsageInput{v->path, v->UsedRatio() * 100,
                    static_cast<double>(v->size_bytes - v->free_bytes),
                    static_cast<double>(v->size_bytes), static_cast<double>(v->avail_bytes)};
}

std::optional<UsageInput> ExtractInodeUsage(const Snapshot& s, SystemTime) {
  auto v = s.Get<VolumeData>();
  // Some filesystems (btrfs, overlay on some kernels) report no inode limit.
  if (v == nullptr || v->files == 0) return std::nullopt;
  return UsageInput{v->path, v->InodesUsedRatio() * 100,
                    static_cast<double>(v->files - v->files_free), static_cast<double>(v->files),
                    static_cast<double>(v->files_free)};
}

void DecideDiskAlmostFull(const UsageInput& in, const RuleConfig& c, RuleOutcome* out) {
  Usage(in, c, Figure::kBytes, kFreeSpaceRemedy, out);
  out->ok_summary = fmt::format("{} is {:.1f}% full ({} of {} available)", in.path, in.used_percent,
                                HumanBytes(in.available), HumanBytes(in.total));
}

void DecideInodesAlmostFull(const UsageInput& in, const RuleConfig& c, RuleOutcome* out) {
  Usage(in, c, Figure::kInodes,
        "Many small files (dind leftovers, unpacked layers) use the inodes: remove dind leftovers "
        "that are not cache_* and prune BuildKit (`buildctl prune`), or recreate the filesystem "
        "with more inodes.",
        out);
  out->ok_summary = fmt::format("{} has {:.1f}% of its inodes used ({:.0f} of {:.0f})", in.path,
                                in.used_percent, in.used, in.total);
}

}  // namespace cachewarden
