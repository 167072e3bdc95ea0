#include "policies/alerts/rules/buildkit_unaccounted.h"

#include <fmt/format.h>

#include "base/units.h"
#include "policies/alerts/rule_support.h"
#include "probes/byte_budget.h"

namespace cachewarden {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

constexpr RuleParam kUnaccountedParams[] = {
    {"min_ratio", ParamKind::kPercent, 10},
    {"min_size", ParamKind::kSize, 1 * kGiB},
};

}  // namespace

constinit const RuleDef kBuildkitUnaccountedLarge = {
    .name = "BuildkitUnaccountedLarge",
    .default_for = std::chrono::minutes(15),
    .default_keep_firing_for = std::chrono::minutes(5),
    .params = kUnaccountedParams,
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractUnaccounted, &DecideUnaccounted>,
};

std::optional<UnaccountedInput> ExtractUnaccounted(const Snapshot& s, SystemTime now) {
  auto b = ComputeByteBudget(s, now);
  if (!b || !b->unaccounted) return std::nullopt;
  return UnaccountedInput{CachePath(s), *b->unaccounted, b->buildkit_dir, b->buildkit_bytes,
                          b->volume_size};
}

void DecideUnaccounted(const UnaccountedInput& in, const RuleConfig& c, RuleOutcome* out) {
  const double bytes = static_cast<double>(in.unaccounted_bytes);
  const double ratio_limit = c.Param("min_ratio") / 100 * static_cast<double>(in.volume_bytes);
  const double size_limit = c.Param("min_size");
  Candidate cand =
      MakeCandidate(Severity::kWarning, bytes > ratio_limit && bytes > size_limit, false, bytes);
  cand.summary =
      fmt::format("{} under {}/buildkit is not counted by BuildKit ({} there, BuildKit counts {})",
                  HumanBytes(in.unaccounted_bytes), in.path, HumanBytes(in.buildkit_dir_bytes),
                  HumanBytes(in.counted_bytes));
  cand.description = fmt::format(
      "BuildKit's GC frees only the records it counts; these {} ({:.0f}% of the {} volume) it "
      "never will: its metadata databases (metadata_v2.db, containerdmeta.db) grown large, or "
      "snapshots of records it lost track of after a crash or a killed prune. See what they are "
      "with `cachewarden scan` (largest entries under buildkit/); while no build runs, `buildctl "
      "prune --all` then a restart of buildkitd lets it drop what it does not know, and when that "
      "does not free them, stop buildkitd and remove its state directory (the cache starts "
      "cold).",
      HumanBytes(in.unaccounted_bytes),
      in.volume_bytes == 0 ? 0.0 : 100 * bytes / static_cast<double>(in.volume_bytes),
      HumanBytes(in.volume_bytes));
  out->candidates.push_back(std::move(cand));
  out->ok_summary =
      fmt::format("BuildKit counts all but {} of the {} under {}/buildkit",
                  HumanBytes(in.unaccounted_bytes), HumanBytes(in.buildkit_dir_bytes), in.path);
}

}  // namespace cachewarden
