#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/config_reader.h"
#include "base/enum_names.h"
#include "base/units.h"
#include "fs/worker_options.h"
#include "probes/gc_entries.h"

namespace cachewarden {

// When a policy acts. Any trigger that holds makes the policy run; the watermark triggers also say
// how much to free (down to their low mark).
struct GcTriggers {
  // Volume bytes used (df's used / (used + avail)) above this: free until used is below
  // `until_below` (defaults to `used_above`).
  std::optional<SizeSpec> used_above;
  std::optional<SizeSpec> until_below;
  // Bytes available below this: free until available is at least this.
  std::optional<SizeSpec> free_below;
  // Inodes used above this percentage: free until below `inodes_until_below`.
  std::optional<SizeSpec> inodes_used_above;
  std::optional<SizeSpec> inodes_until_below;
  // The policy's own entries (after include/exclude) together above this:
  // free until they are at most this. A percentage is of the volume.
  std::optional<SizeSpec> total_above;
  // Every entry idle over this (newest mtime, or as age_by says) is chosen (tmpfiles style),
  // whatever the watermarks say.
  std::optional<Duration> older_than;
  // Every eligible entry is chosen.
  bool always = false;
};

// A policy's `order`.
enum class GcOrder { kOldestFirst, kLargestFirst };
inline constexpr EnumName<GcOrder> kGcOrderNames[] = {
    {GcOrder::kOldestFirst, "oldest_first"},
    {GcOrder::kLargestFirst, "largest_first"},
};
constexpr std::string_view ToString(GcOrder o) { return NameIn<GcOrder>(kGcOrderNames, o); }

// A policy's `action`.
enum class GcAction { kDelete, kCommand, kPrune };
inline constexpr EnumName<GcAction> kGcActionNames[] = {
    {GcAction::kDelete, "delete"},
    {GcAction::kCommand, "command"},
    {GcAction::kPrune, "prune"},
};

// The `prune` action's settings: one gRPC Prune of BuildKit's (BuildkitPruneRequest), at the
// addresses of `probes.buildkit.address`. Byte figures in bytes, 0 meaning unset.
struct GcPruneSettings {
  std::int64_t keep_bytes = 0;       // field 4: a cap before BuildKit 0.17, a floor from 0.17 on
  std::int64_t max_used_space = 0;   // BuildKit 0.17 on
  std::int64_t min_free_space = 0;   // BuildKit 0.17 on
  Duration keep_duration{};          // records used more recently than this stay
  std::vector<std::string> filters;  // BuildKit filter strings (gc_prune.h says which)
  bool all = false;                  // shared, internal and frontend records too
  Duration timeout = std::chrono::minutes(10);  // the Prune call's deadline
  // No address answering: true ("when_unreachable": "skip") makes the run not triggered, said
  // once in the log; false ("fail") makes it failed.
  bool skip_unreachable = true;
  bool operator==(const GcPruneSettings&) const = default;
};
constexpr std::string_view ToString(GcAction a) { return NameIn<GcAction>(kGcActionNames, a); }

// One garbage-collection policy: what to look at, when to act, what never to touch, in which order,
// and what to do. Validated when read: a policy is usable as is.
struct GcPolicy {
  std::string name;
  // Relative to the cache root; no "..", no empty or "." components. Its immediate children are the
  // candidate entries. May be empty only for the command action; always empty for prune (its
  // candidates are BuildKit's records).
  std::string path;
  std::vector<std::string> include{"*"};  // fnmatch globs on entry names
  std::vector<std::string> exclude;
  GcTriggers triggers;
  Duration min_age = std::chrono::hours(1);
  GcAgeBy age_by = GcAgeBy::kMtime;
  bool unmount_stale = false;
  bool skip_open = false;
  std::int64_t max_entries = 0;  // per run; 0: no cap
  std::uint64_t max_bytes = 0;   // per run; 0: no cap
  GcOrder order = GcOrder::kOldestFirst;
  GcAction action = GcAction::kDelete;
  std::vector<std::string> command;  // argv, for kCommand; run without a shell
  Duration command_timeout = std::chrono::minutes(5);
  GcPruneSettings prune;  // for kPrune
  Duration interval = std::chrono::minutes(1);
  double max_delete_rate = 0;  // entries (files + dirs) per second; 0: no limit
  // `threads` measure an entry and delete it; low_priority and nice lower the measuring walker's
  // threads only (deletion is paced by max_delete_rate instead).
  WorkerOptions workers{.threads = 2, .low_priority = true, .nice = 10};
  bool dry_run = false;
  // Delete policies in the daemon: an entry measured by one of the last runs less than this long
  // ago, and still the same (dev, ino), keeps that measure (bytes, ages) instead of being walked
  // every run. An entry the plan would delete is walked again first and the plan made again, so
  // nothing is deleted on an old measure. 0: every entry is walked every run.
  Duration remeasure_after = std::chrono::minutes(10);
};

// Settings of the `gc` section.
struct GcConfig {
  bool enabled = true;  // the daemon runs policies on their intervals
  std::vector<GcPolicy> policies;
};

// The policies used when the config names none. dind: dind leftovers (entries not named cache_*),
// idle at least 6 h, not held open, mounts left alone; chosen when idle over 24 h or while the
// volume is above 85% used, until 80%. buildkit: while the volume is above 85% used, a BuildKit
// Prune of the records unused for 1 h (when BuildKit answers; else the run does nothing).
GcPolicy DefaultDindPolicy();
GcPolicy DefaultBuildkitPolicy();

// Checks a policy path's spelling; "" if fine, else why not.
std::string CheckPolicyPath(const std::string& path, bool allow_empty);

// Reads the `gc` section; throws ConfigError.
GcConfig ReadGcConfig(ConfigReader& gc);

}  // namespace cachewarden
