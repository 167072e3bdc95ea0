#include "policies/alerts/rules/dind_leftovers.h"

#include <fmt/format.h>

#include <algorithm>

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

std::optional<LeftoversInput> ExtractLeftovers(const Snapshot& s, SystemTime now) {
  auto d = s.Get<DindData>();
  if (d == nullptr) return std::nullopt;
  LeftoversInput in{d->dirs.empty() ? CachePath(s) : d->dirs.front(),
                    static_cast<double>(d->leftover_bytes),
                    static_cast<double>(d->leftover_entries),
                    ToSeconds(d->leftover_age),
                    {}};
  for (const auto& e : d->entries) {
    if (!e.leftover) continue;
    in.largest.push_back({e.name, static_cast<double>(e.bytes), SecondsSince(e.newest_mtime, now)});
  }
  std::stable_sort(in.largest.begin(), in.largest.end(),
                   [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  if (in.largest.size() > kNamedLeftovers) in.largest.resize(kNamedLeftovers);
  return in;
}

namespace {

// "old1 (4.8 MiB, idle 3d), b (1.0 MiB, idle 2h) and 5 more": the largest by name, the rest
// counted.
std::string NamedEntries(const LeftoversInput& in) {
  std::string out;
  for (std::size_t i = 0; i < in.largest.size(); ++i) {
    const auto& e = in.largest[i];
    if (i > 0) out += ", ";
    out += fmt::format("{} ({}, idle {})", ShowName(e.name), HumanBytes(e.bytes),
                       HumanAgeSeconds(e.idle_seconds));
  }
  const double more = in.entries - static_cast<double>(in.largest.size());
  if (more > 0 && !out.empty()) out += fmt::format(" and {:.0f} more", more);
  return out.empty() ? out : ": " + out;
}

}  // namespace

void DecideLeftovers(const LeftoversInput& in, const RuleConfig& c, RuleOutcome* out) {
  const double max_size = c.Param("max_size"), max_entries = c.Param("max_entries");
  Candidate cand = MakeCandidate(Severity::kWarning,
                                 in.bytes > max_size || in.entries > max_entries, false, in.bytes);
  const std::string held = fmt::format("{:.0f} leftover dind entr{} under {} hold{} {}", in.entries,
                                       in.entries == 1 ? "y" : "ies", in.path,
                                       in.entries == 1 ? "s" : "", HumanBytes(in.bytes));
  cand.summary = held + NamedEntries(in);
  cand.description = fmt::format(
      "They are over the limits ({}, {:.0f} entries). A leftover is not cache_* and idle (nothing "
      "in it "
      "modified) for {} or more, so it belongs to no running build; `earthly prune` does not "
      "remove them (earthly#3696). `cachewarden gc` deletes them as its GC policies say "
      "(`cachewarden gc --dry-run` first shows which); or remove them while no build runs, or "
      "restart buildkitd, whose entrypoint wipes them.",
      HumanBytes(max_size), max_entries, HumanAgeSeconds(in.leftover_age_seconds));
  out->candidates.push_back(std::move(cand));
  out->ok_summary =
      in.entries == 0
          ? fmt::format("No leftover dind entries under {}", in.path)
          : fmt::format("{}{} (limits: {}, {:.0f} entries; `cachewarden gc` frees them)", held,
                        NamedEntries(in), HumanBytes(max_size), max_entries);
}

}  // namespace cachewarden
