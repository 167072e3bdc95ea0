#include "policies/alerts/rules/dind_leftovers.h"

#include <fmt/format.h>

#include "base/units.h"
#include "policies/alerts/rule_support.h"
#include "probes/dind.h"

namespace cachewarden {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

constexpr RuleParam kLeftoverParams[] = {
    {"max_size", ParamKind::kSize, 10 * kGiB},
    {"max_entries", ParamKind::kCount, 100},
};

}  // namespace

constinit const RuleDef kDindLeftoversLarge = {
    .name = "DindLeftoversLarge",
    .default_for = std::chrono::minutes(10),
    .default_keep_firing_for = std::chrono::minutes(5),
    .params = kLeftoverParams,
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractLeftovers, &DecideLeftovers>,
};

std::optional<LeftoversInput> ExtractLeftovers(const Snapshot& s, SystemTime) {
  auto d = s.Get<DindData>();
  if (d == nullptr) return std::nullopt;
  return LeftoversInput{d->dirs.empty() ? CachePath(s) : d->dirs.front(),
                        static_cast<double>(d->leftover_bytes),
                        static_cast<double>(d->leftover_entries), ToSeconds(d->leftover_age)};
}

void DecideLeftovers(const LeftoversInput& in, const RuleConfig& c, RuleOutcome* out) {
  const double max_size = c.Param("max_size"), max_entries = c.Param("max_entries");
  Candidate cand = MakeCandidate(Severity::kWarning,
                                 in.bytes > max_size || in.entries > max_entries, false, in.bytes);
  cand.summary = fmt::format("dind leftovers under {}: {} in {:.0f} entries", in.path,
                             HumanBytes(in.bytes), in.entries);
  cand.description = fmt::format(
      "{:.0f} entries ({}) under {} are not cache_*, untouched for {}, and belong to no running "
      "build (limits: {}, {:.0f} entries). `earthly prune` does not remove them (earthly#3696). "
      "Remove them while no build runs, or restart buildkitd, whose entrypoint wipes them.",
      in.entries, HumanBytes(in.bytes), in.path, DurationText(in.leftover_age_seconds),
      HumanBytes(max_size), max_entries);
  out->candidates.push_back(std::move(cand));
  out->ok_summary =
      in.entries == 0
          ? fmt::format("No leftover dind entries under {}", in.path)
          : fmt::format("{:.0f} leftover dind entr{} under {} hold {} (limits: {}, {:.0f} entries)",
                        in.entries, in.entries == 1 ? "y" : "ies", in.path, HumanBytes(in.bytes),
                        HumanBytes(max_size), max_entries);
}

}  // namespace cachewarden
