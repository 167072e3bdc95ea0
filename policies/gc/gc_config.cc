#include "policies/gc/gc_config.h"

#include <fmt/format.h>

#include <cctype>
#include <limits>
#include <set>

#include "fs/dirfd.h"
#include "policies/gc/gc_prune.h"

namespace cachewarden {
namespace {

constexpr Duration kNever = std::chrono::hours(24 * 365 * 100);

constexpr std::string_view kPruneKeys[] = {"keep_bytes",    "max_used_space",  "min_free_space",
                                           "keep_duration", "filters",         "all",
                                           "prune_timeout", "when_unreachable"};

std::int64_t PruneBytes(ConfigReader& p, std::string_view key) {
  return static_cast<std::int64_t>(p.Size(key, SizeSpec::Bytes(0), false).value);
}

// The prune action's keys; on another action, any of them is an error (it would do nothing).
void ReadPruneSettings(ConfigReader& p, bool prune, GcPruneSettings* out) {
  if (!prune) {
    for (std::string_view key : kPruneKeys) {
      if (p.Has(key)) p.Fail(key, "only used with \"action\": \"prune\"");
    }
    return;
  }
  out->keep_bytes = PruneBytes(p, "keep_bytes");
  out->max_used_space = PruneBytes(p, "max_used_space");
  out->min_free_space = PruneBytes(p, "min_free_space");
  out->keep_duration = p.Dur("keep_duration", Duration(0), Duration(0), kNever);
  out->filters = p.StringList("filters", {});
  for (const auto& f : out->filters) {
    BuildkitFilter parsed;
    std::string error;
    if (!ParseBuildkitFilter(f, &parsed, &error)) {
      p.Fail("filters", fmt::format("\"{}\": {}", f, error));
    }
  }
  out->all = p.Bool("all", false);
  out->timeout = p.Dur("prune_timeout", std::chrono::minutes(10), std::chrono::seconds(1),
                       std::chrono::hours(24));
  const std::string unreachable =
      p.String("when_unreachable", "skip", std::vector<std::string>{"skip", "fail"});
  out->skip_unreachable = unreachable != "fail";
  if (out->max_used_space > 0 && out->keep_bytes > out->max_used_space) {
    p.Fail("keep_bytes", "must not be above max_used_space (with it, keep_bytes is the floor)");
  }
}

std::optional<SizeSpec> OptionalSize(ConfigReader& r, std::string_view key, bool percent_only) {
  if (!r.Has(key)) {
    r.Unset(key);
    return std::nullopt;
  }
  SizeSpec s = r.Size(key, SizeSpec{});
  if (percent_only && !s.percent) r.Fail(key, "expected a percentage like \"90%\"");
  if (s.percent && (s.value < 0 || s.value > 100)) {
    r.Fail(key, "expected a percentage from 0% to 100%");
  }
  return s;
}

GcTriggers ReadTriggers(ConfigReader& t) {
  GcTriggers g;
  g.used_above = OptionalSize(t, "used_above", false);
  g.until_below = OptionalSize(t, "until_below", false);
  g.free_below = OptionalSize(t, "free_below", false);
  g.inodes_used_above = OptionalSize(t, "inodes_used_above", true);
  g.inodes_until_below = OptionalSize(t, "inodes_until_below", true);
  g.total_above = OptionalSize(t, "total_above", false);
  if (t.Has("older_than")) {
    g.older_than = t.Dur("older_than", {}, std::chrono::seconds(0), kNever);
  } else {
    t.Unset("older_than");
  }
  g.always = t.Bool("always", false);
  if (g.until_below && !g.used_above) {
    t.Fail("until_below", "needs used_above (it is the low mark of used_above)");
  }
  if (g.inodes_until_below && !g.inodes_used_above) {
    t.Fail("inodes_until_below", "needs inodes_used_above");
  }
  if (g.used_above && g.until_below && g.used_above->percent == g.until_below->percent &&
      g.until_below->value > g.used_above->value) {
    t.Fail("until_below", "must not be above used_above");
  }
  if (g.inodes_used_above && g.inodes_until_below &&
      g.inodes_until_below->value > g.inodes_used_above->value) {
    t.Fail("inodes_until_below", "must not be above inodes_used_above");
  }
  if (!g.until_below) g.until_below = g.used_above;
  if (!g.inodes_until_below) g.inodes_until_below = g.inodes_used_above;
  t.Finish();
  return g;
}

bool HasAnyTrigger(const GcTriggers& t) {
  return t.used_above || t.free_below || t.inodes_used_above || t.total_above || t.older_than ||
         t.always;
}

GcPolicy ReadPolicy(ConfigReader& p) {
  GcPolicy g;
  g.name = p.String("name", "");
  if (g.name.empty()) p.Fail("name", "a policy needs a name");
  for (char c : g.name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      p.Fail("name", "use letters, digits, '_', '-' and '.' only (it becomes a metric label)");
    }
  }
  g.action = p.Choice("action", GcAction::kDelete, kGcActionNames);
  g.path = p.String("path", "");
  if (g.action == GcAction::kPrune) {
    if (!g.path.empty()) {
      p.Fail("path",
             "the prune action frees BuildKit's records through BuildKit, not a directory: leave "
             "path out");
    }
  } else if (auto why = CheckPolicyPath(g.path, g.action == GcAction::kCommand); !why.empty()) {
    p.Fail("path", why);
  }
  if (g.action == GcAction::kDelete && (g.path == "buildkit" || g.path.starts_with("buildkit/"))) {
    p.Fail(
        "path",
        "a delete policy must not reach under buildkit/: BuildKit's records are pruned through "
        "BuildKit (\"action\": \"prune\"), never by deleting its files behind a running buildkitd");
  }
  // Keys that choose among a directory's entries or pace their deletion: a prune policy has none
  // (BuildKit chooses its records), so they are refused there, and left out of its effective
  // config, which `config print` shows and which must load again as it is.
  const bool prune = g.action == GcAction::kPrune;
  auto reads = [&](std::string_view key) {
    if (!prune) return true;
    if (!p.Has(key)) return false;
    p.Fail(key,
           "not used by the prune action: BuildKit chooses its records (use keep_bytes, "
           "keep_duration, filters, all)");
    return true;
  };
  if (reads("include")) g.include = p.StringList("include", {"*"});
  if (reads("exclude")) g.exclude = p.StringList("exclude", {});
  ConfigReader t = p.Object("triggers");
  g.triggers = ReadTriggers(t);
  if (!HasAnyTrigger(g.triggers)) {
    p.Fail("triggers",
           "a policy needs at least one trigger (used_above, free_below, inodes_used_above, "
           "total_above, older_than or always)");
  }
  if (g.action == GcAction::kPrune && (g.triggers.total_above || g.triggers.older_than)) {
    p.Fail("triggers",
           "total_above and older_than measure a directory's entries; a prune policy says what "
           "BuildKit keeps with keep_bytes, keep_duration and filters");
  } else if (g.path.empty() && (g.triggers.total_above || g.triggers.older_than)) {
    p.Fail("triggers", "total_above and older_than measure entries: they need a path");
  }
  if (reads("min_age")) g.min_age = p.Dur("min_age", std::chrono::hours(1), Duration(0), kNever);
  if (reads("age_by")) g.age_by = p.Choice("age_by", GcAgeBy::kMtime, kGcAgeByNames);
  if (reads("unmount_stale")) g.unmount_stale = p.Bool("unmount_stale", false);
  // On by default where builds keep files open: the dind directories.
  if (reads("skip_open"))
    g.skip_open = p.Bool("skip_open", g.path == "dind" || g.path.starts_with("dind/"));
  if (reads("max_entries"))
    g.max_entries = p.Int("max_entries", 0, 0, std::numeric_limits<std::int32_t>::max());
  if (reads("max_bytes")) {
    g.max_bytes = static_cast<std::uint64_t>(p.Size("max_bytes", SizeSpec::Bytes(0), false).value);
  }
  if (reads("order")) g.order = p.Choice("order", GcOrder::kOldestFirst, kGcOrderNames);
  if (g.action != GcAction::kPrune || p.Has("command")) g.command = p.StringList("command", {});
  if (reads("command_timeout"))
    g.command_timeout = p.Dur("command_timeout", std::chrono::minutes(5), std::chrono::seconds(1),
                              std::chrono::hours(24));
  if (g.action == GcAction::kCommand && (g.command.empty() || g.command[0].empty())) {
    p.Fail("command", "the command action needs an argv list, e.g. [\"buildctl\", \"prune\"]");
  }
  if (g.action != GcAction::kCommand && !g.command.empty()) {
    p.Fail("command", "only used with \"action\": \"command\"");
  }
  ReadPruneSettings(p, g.action == GcAction::kPrune, &g.prune);
  g.interval = p.Dur("interval", std::chrono::minutes(1), std::chrono::seconds(1),
                     std::chrono::hours(24 * 7));
  if (reads("max_delete_rate")) g.max_delete_rate = p.Number("max_delete_rate", 0, 0, 1e9);
  if (reads("threads")) g.workers.threads = static_cast<int>(p.Int("threads", 2, 1, 64));
  if (reads("low_priority")) g.workers.low_priority = p.Bool("low_priority", true);
  if (reads("nice")) g.workers.nice = static_cast<int>(p.Int("nice", 10, 0, 19));
  g.dry_run = p.Bool("dry_run", false);
  if (reads("remeasure_after"))
    g.remeasure_after =
        p.Dur("remeasure_after", std::chrono::minutes(10), Duration(0), std::chrono::hours(24 * 7));
  p.Finish();
  return g;
}

}  // namespace

std::string CheckPolicyPath(const std::string& path, bool allow_empty) {
  if (path.empty())
    return allow_empty ? "" : "a delete policy needs a path under the cache root, e.g. \"dind\"";
  return CheckRelativePath(path);
}

namespace {

// The policy used when the config names none, as the config would spell it: read by the same code
// as a given one, so `config print` shows it with every default filled in.
const nlohmann::json& DefaultPolicies() {
  static const nlohmann::json kPolicies = nlohmann::json::parse(R"([{
    "name": "dind", "path": "dind", "exclude": ["cache_*"], "min_age": "6h",
    "triggers": {"older_than": "24h", "used_above": "85%", "until_below": "80%"}}, {
    "name": "buildkit", "action": "prune", "keep_duration": "1h",
    "triggers": {"used_above": "85%"}}])");
  return kPolicies;
}

}  // namespace

GcPolicy DefaultDindPolicy() {
  ConfigReader r(&DefaultPolicies()[0], "/gc/policies/0", nullptr);
  return ReadPolicy(r);
}

GcPolicy DefaultBuildkitPolicy() {
  ConfigReader r(&DefaultPolicies()[1], "/gc/policies/1", nullptr);
  return ReadPolicy(r);
}

GcConfig ReadGcConfig(ConfigReader& gc) {
  GcConfig c;
  c.enabled = gc.Bool("enabled", true);
  bool present = false;
  std::set<std::string> names;
  for (auto& p : gc.ObjectList("policies", &present, &DefaultPolicies())) {
    // Each policy's errors are its own: the next policy is read even when this one fails.
    p.Collect([&] {
      c.policies.push_back(ReadPolicy(p));
      if (!names.insert(c.policies.back().name).second) {
        p.Fail("name", fmt::format("duplicate policy name \"{}\"", c.policies.back().name));
      }
    });
  }
  gc.Finish();
  return c;
}

}  // namespace cachewarden
