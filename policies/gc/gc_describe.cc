#include "policies/gc/gc_describe.h"

#include <fmt/format.h>

#include "base/units.h"

namespace cachewarden {
namespace {

// "idle" is the one word for the time since an entry last changed (its newest mtime); another
// `age_by` is named.
std::string IdleWord(GcAgeBy by) {
  return by == GcAgeBy::kMtime ? "idle" : fmt::format("idle by {}", ToString(by));
}

std::string Prunes(const GcPolicy& p) {
  const GcPruneSettings& s = p.prune;
  std::string out = "prunes BuildKit's records not in use";
  if (!s.filters.empty()) out += fmt::format(" matching {}", fmt::join(s.filters, " or "));
  if (s.keep_duration > Duration(0)) {
    out += fmt::format(" and unused for {}", HumanAge(s.keep_duration));
  }
  if (s.all) out += ", shared and internal ones too";
  std::vector<std::string> bytes;
  if (s.keep_bytes > 0) {
    bytes.push_back(fmt::format("keep_bytes {}", HumanBytes(static_cast<double>(s.keep_bytes))));
  }
  if (s.max_used_space > 0) {
    bytes.push_back(
        fmt::format("max_used_space {}", HumanBytes(static_cast<double>(s.max_used_space))));
  }
  if (s.min_free_space > 0) {
    bytes.push_back(
        fmt::format("min_free_space {}", HumanBytes(static_cast<double>(s.min_free_space))));
  }
  if (!bytes.empty()) out += fmt::format(" ({})", fmt::join(bytes, ", "));
  return out;
}

std::string What(const GcPolicy& p) {
  if (p.action == GcAction::kPrune) return Prunes(p);
  if (p.action == GcAction::kCommand) {
    return fmt::format("runs `{}`{}", fmt::join(p.command, " "),
                       p.path.empty() ? "" : fmt::format(" for {}/", p.path));
  }
  std::string globs = fmt::format("{}", fmt::join(p.include, ","));
  std::string out =
      fmt::format("deletes {}/{}", p.path, p.include.size() == 1 ? globs : "{" + globs + "}");
  if (!p.exclude.empty()) out += fmt::format(" (not {})", fmt::join(p.exclude, ", not "));
  return out;
}

std::string Until(const std::optional<SizeSpec>& low, const std::optional<SizeSpec>& high,
                  std::string_view unit) {
  if (!low || (high && *low == *high)) return "";
  return fmt::format(" until {}{}", low->ToString(), unit);
}

std::vector<std::string> When(const GcPolicy& p) {
  const GcTriggers& t = p.triggers;
  // A command frees what it frees: only deletion has an order.
  const std::string order = p.action == GcAction::kPrune       ? "as BuildKit decides"
                            : p.action == GcAction::kCommand   ? "run"
                            : p.order == GcOrder::kOldestFirst ? "oldest first"
                                                               : "largest first";
  std::vector<std::string> out;
  if (t.always) out.push_back("every entry, whenever it runs");
  if (t.older_than) {
    out.push_back(fmt::format("{} over {}", IdleWord(p.age_by), HumanAge(*t.older_than)));
  }
  if (t.used_above) {
    out.push_back(fmt::format("while the volume is over {} used, {}{}", t.used_above->ToString(),
                              order, Until(t.until_below, t.used_above, "")));
  }
  if (t.free_below) {
    out.push_back(fmt::format("while under {} is free, {} until {} is", t.free_below->ToString(),
                              order, t.free_below->ToString()));
  }
  if (t.inodes_used_above) {
    out.push_back(fmt::format("while over {} of inodes are used, {}{}",
                              t.inodes_used_above->ToString(), order,
                              Until(t.inodes_until_below, t.inodes_used_above, "")));
  }
  if (t.total_above) {
    out.push_back(fmt::format("while its entries hold over {}, {} until they hold {}",
                              t.total_above->ToString(), order, t.total_above->ToString()));
  }
  return out;
}

std::string Never(const GcPolicy& p) {
  // BuildKit judges its own records: keep_duration and in-use are in Prunes().
  if (p.action == GcAction::kPrune)
    return "; only when BuildKit answers at probes.buildkit.address";
  std::vector<std::string> guards;
  if (p.min_age > Duration(0)) {
    guards.push_back(fmt::format("an entry {} under {}", IdleWord(p.age_by), HumanAge(p.min_age)));
  }
  if (p.skip_open) guards.push_back("one held open");
  if (p.action == GcAction::kDelete && !p.unmount_stale)
    guards.push_back("one with a mount inside");
  if (guards.empty()) return "";
  std::string out = "; never ";
  for (std::size_t i = 0; i < guards.size(); ++i) {
    out += i == 0 ? "" : (i + 1 == guards.size() ? " or " : ", ");
    out += guards[i];
  }
  return out;
}

}  // namespace

std::string DescribeGcPolicy(const GcPolicy& p) {
  std::string out = fmt::format("policy {} {}", p.name, What(p));
  auto when = When(p);
  for (std::size_t i = 0; i < when.size(); ++i) out += (i == 0 ? " " : ", or ") + when[i];
  out += Never(p);
  if (p.unmount_stale) out += "; unmounts stale mounts first";
  std::vector<std::string> caps;
  if (p.max_entries > 0) caps.push_back(fmt::format("{} entries", p.max_entries));
  if (p.max_bytes > 0) caps.push_back(HumanBytes(static_cast<double>(p.max_bytes)));
  if (!caps.empty()) out += fmt::format("; at most {} a run", fmt::join(caps, " or "));
  out += fmt::format("; checked every {}", HumanAge(p.interval));
  if (p.dry_run) out += " (dry run: deletes nothing, logs what it would)";
  return out;
}

std::vector<std::string> DescribeGc(const GcConfig& gc) {
  if (!gc.enabled) return {"gc: disabled (gc.enabled is false): nothing is deleted"};
  std::vector<std::string> out;
  for (const auto& p : gc.policies) out.push_back("gc: " + DescribeGcPolicy(p));
  if (out.empty()) out.push_back("gc: no policies: nothing is deleted");
  return out;
}

nlohmann::json GcPolicyStatus(const GcConfig& gc) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : gc.policies) {
    list.push_back({{"name", p.name}, {"description", DescribeGcPolicy(p)}});
  }
  return {{"enabled", gc.enabled}, {"policies", std::move(list)}};
}

}  // namespace cachewarden
