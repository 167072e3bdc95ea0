#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "probes/held_files.h"
#include "probes/snapshot.h"

namespace cachewarden {

// Where the used bytes of the cache's volume are, from the volume, scan and buildkit probes of one
// snapshot: BuildKit's own count (DiskUsage), what the scan finds under BuildKit's directory that
// BuildKit does not count (its metadata databases, snapshots it lost track of), the scan's other
// groups (dind, other), deleted files still held open (no directory shows them), and the rest of
// the filesystem outside the cache directory. Every figure is allocated bytes.
struct ByteBudget {
  std::string path;  // the cache root
  std::uint64_t volume_size = 0;
  std::uint64_t volume_used = 0;  // size - free, as df counts it
  // The scan, when it has run and ended at most kMaxScanAge ago.
  bool scanned = false;
  std::uint64_t cache_dir = 0;                                // the scan's total
  std::uint64_t buildkit_dir = 0;                             // its `buildkit` group
  std::vector<std::pair<std::string, std::uint64_t>> groups;  // the others, in the scan's order
  // BuildKit's DiskUsage, when the buildkit probe's latest run succeeded.
  bool buildkit_counted = false;
  std::uint64_t buildkit_bytes = 0;
  std::int64_t buildkit_records = 0;
  // buildkit_dir - buildkit_bytes, 0 when BuildKit counts more (its sizes are estimates, and shared
  // snapshots count in several records); only with both `scanned` and `buildkit_counted`.
  std::optional<std::uint64_t> unaccounted;
  std::optional<DeletedOpenFiles> deleted_open;  // volume probe's probes.volume.deleted_open
  // volume_used - cache_dir - deleted open: other directories of the filesystem and its own
  // metadata (journal, inode tables); only when scanned, 0 when the others add up to more.
  std::uint64_t outside = 0;

  // An older scan is not compared with BuildKit's live count.
  static constexpr Duration kMaxScanAge = std::chrono::hours(1);
  static constexpr std::string_view kBuildkitGroup = "buildkit";

  // What BuildKit does not manage on the volume: the scan's other groups, unaccounted bytes under
  // buildkit/ and deleted open files (0 for each figure not known).
  std::uint64_t Unmanaged() const;
};

// The budget of `s` at `now`; nullopt without the volume probe's data.
std::optional<ByteBudget> ComputeByteBudget(const Snapshot& s, SystemTime now);

// The budget as the table `check` and `scan` print: a heading line, then one indented row per
// figure known ("  BuildKit's own count   50.0 GiB  (1234 records)"), each ending in a newline.
std::string ByteBudgetText(const ByteBudget& b);
// {"path", "volume_size_bytes", "volume_used_bytes", "rows": [{"part", "bytes", "note"}...],
// "unaccounted_bytes" (null if not known), "deleted_open" (DeletedOpenJson, null when off)}:
// /status and check --json.
nlohmann::json ByteBudgetJson(const ByteBudget& b);

}  // namespace cachewarden
