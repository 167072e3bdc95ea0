#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/config_reader.h"
#include "fs/walker.h"
#include "fs/worker_options.h"
#include "probes/probe.h"

namespace cachewarden {

// The `scan` probe: what fills the cache. One walk of the cache root (the walker's rules: no
// symlinks followed, no other filesystem entered, hard links once), broken down into groups and,
// for the dind group, per entry.

// How to scan; read from `probes.scan` (see docs/config.md).
struct ScanOptions {
  // Group name -> a directory directly under the root. Everything else under the root (the root
  // directory itself included) is the group "other".
  std::vector<std::pair<std::string, std::string>> groups = {{"buildkit", "buildkit"},
                                                             {"dind", "dind"}};
  // The group whose entries are docker-in-docker data roots ("" for none).
  std::string dind_group = "dind";
  std::size_t top = 20;  // largest entries and largest files kept
  // The walker's threads; lowered by default, so that a scan does not slow the builds.
  WorkerOptions workers{.threads = 2, .low_priority = true, .nice = 10};
  // Multiply-linked files remembered to count each once (WalkOptions::max_hard_links).
  std::size_t max_hard_links = WalkOptions().max_hard_links;
  // Pacing in the daemon: the next scan starts no sooner than this scan's CPU time divided by
  // cpu_budget percent of one core after this one started, nor later than max_interval (nor before
  // the interval); 0 turns pacing off.
  double cpu_budget = 0.5;
  Duration max_interval = std::chrono::minutes(10);

  bool operator==(const ScanOptions&) const = default;
};

// One entry of the dind directory (a docker-in-docker data root). This list is also the input of
// the `dind` probe (ctx.previous->Get<ScanData>()).
struct DindEntry {
  std::string name;                   // e.g. "cache_abc" or "9f3c..."
  bool is_cache = false;              // name starts with "cache_": kept by Earthly
  std::uint64_t allocated_bytes = 0;  // st_blocks * 512 over the subtree
  std::uint64_t apparent_bytes = 0;
  std::uint64_t inodes = 0;
  SystemTime newest_mtime{};       // newest mtime in the subtree: last activity
  std::uint64_t mount_points = 0;  // mounts inside (not counted): "Resource busy"
};

// Whether a dind directory entry is named cache_*: a data root Earthly keeps on purpose (never a
// leftover).
bool IsDindCacheEntry(std::string_view name);

// A directory entry one or two levels below the root (a child of the root, or of a group's
// directory), kept when it is among the `top` largest.
struct ScanEntry {
  std::string path;  // relative to the root, e.g. "buildkit/runc-overlayfs"
  std::string group;
  EntryTotals totals;
};

struct ScanGroup {
  std::string name;  // a configured group, or "other"
  EntryTotals totals;
};

struct ScanData : ProbeData {
  static constexpr std::string_view kProbe = "scan";
  std::string root;
  SystemTime scanned_at{};  // when the walk ended; ages are relative to it
  Duration duration{};
  Duration cpu_time{};   // CPU time the walk used, its threads' and the calling thread's
  Duration paced_gap{};  // NextRunAfter(): from cpu_time and the options' pacing; 0 if none
  EntryTotals total;     // the root as `du -sx` sees it
  std::vector<ScanGroup> groups;          // configured order, then "other"; sum == total
  std::vector<DindEntry> dind_entries;    // every entry, largest first
  std::vector<ScanEntry> largest;         // at most `top`, largest first
  std::vector<LargeFile> largest_files;   // paths relative to the root
  std::vector<std::string> mount_points;  // first few, relative to the root
  SkipCounts skipped_total;               // cumulative since the probe started

  const ScanGroup* FindGroup(std::string_view name) const;

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
  Duration NextRunAfter() const override { return paced_gap; }
};

// The least time from one scan's start to the next's when the scan used `cpu` of CPU time and may
// use `budget_percent` of one core: cpu / budget, at most `max` (0 when the budget is 0).
Duration PacedGap(Duration cpu, double budget_percent, Duration max);

// Seconds from `t` to `now` (0 for the epoch, i.e. "no entry").
double AgeSeconds(SystemTime t, SystemTime now);
// {allocated_bytes, apparent_bytes, inodes, newest_entry_age_seconds,
//  oldest_entry_age_seconds, mount_points}; ages relative to `now`.
nlohmann::json TotalsToJson(const EntryTotals& t, SystemTime now);

// Reads the probe's own keys from its section; throws ConfigError.
ScanOptions ReadScanOptions(ConfigReader& section);
// A scan probe whose cumulative skip counts start at zero.
std::unique_ptr<Probe> NewScanProbe(const ScanOptions& options);

// The scan itself (also for the `scan` command): walks `root` on the calling thread plus the
// walker's threads. Fails if the root cannot be opened or the walk was cancelled through `cancel`
// (may be null). skipped_total gets this run's skips only; the probe adds up runs.
Status ScanCache(const std::string& root, const ScanOptions& options,
                 const std::atomic<bool>* cancel, const Clock& clock, ScanData* out);

}  // namespace cachewarden
