#include "policies/alerts/rules/filling_up.h"

#include <fmt/format.h>

#include <cmath>
#include <tuple>

#include "base/units.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

constexpr RuleParam kFillingParams[] = {
    {"warning_free_percent", ParamKind::kPercent, 40},
    {"warning_full_within", ParamKind::kDuration, 24 * 3600},
    {"critical_free_percent", ParamKind::kPercent, 20},
    {"critical_full_within", ParamKind::kDuration, 4 * 3600},
    {"hysteresis_percent", ParamKind::kPercent, 2},
};

}  // namespace

constinit const RuleDef kCacheDiskFillingUp = {
    .name = "CacheDiskFillingUp",
    .default_for = hours(1),
    .default_keep_firing_for = minutes(10),
    .params = kFillingParams,
    .severities = kWarningAndCritical,
    .eval = &EvalOf<&ExtractFillingUp, &DecideFillingUp>,
};

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

void DecideFillingUp(const FillingUpInput& in, const RuleConfig& c, RuleOutcome* out) {
  const double margin = c.Param("hysteresis_percent");
  for (auto [sev, free_key, within_key] :
       {std::tuple{Severity::kWarning, "warning_free_percent", "warning_full_within"},
        std::tuple{Severity::kCritical, "critical_free_percent", "critical_full_within"}}) {
    const double free_below = c.Param(free_key), within = c.Param(within_key);
    const bool soon = in.predicted_full_seconds <= within;
    Candidate cand =
        MakeCandidate(sev, in.free_percent < free_below && soon,
                      in.free_percent < free_below + margin && soon, in.predicted_full_seconds);
    cand.summary = fmt::format("The cache filesystem at {} will be full in {} ({:.1f}% free)",
                               in.path, DurationText(in.predicted_full_seconds), in.free_percent);
    cand.description = fmt::format(
        "{:.1f}% of the filesystem holding {} is free and it fills at {}/s: at this rate it is "
        "full in {}. {}",
        in.free_percent, in.path, HumanBytes(in.fill_rate_bytes_per_second),
        DurationText(in.predicted_full_seconds), kFreeSpaceRemedy);
    out->candidates.push_back(std::move(cand));
  }
  out->ok_summary =
      std::isinf(in.predicted_full_seconds)
          ? fmt::format("{} is not filling up ({:.1f}% free)", in.path, in.free_percent)
          : fmt::format("{} fills at {}/s and would be full in {} ({:.1f}% free)", in.path,
                        HumanBytes(in.fill_rate_bytes_per_second),
                        DurationText(in.predicted_full_seconds), in.free_percent);
}

}  // namespace cachewarden
