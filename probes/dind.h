#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/config_reader.h"
#include "fs/mount_namespaces.h"
#include "probes/probe.h"

namespace cachewarden {

// One entry of a dind directory.
struct DindEntryUsage {
  std::string dir;  // the dind directory
  std::string name;
  bool is_cache = false;  // cache_*: kept by Earthly on purpose
  std::uint64_t bytes = 0;
  SystemTime newest_mtime{};
  bool measured_fully = true;  // false: bytes and mtime are lower bounds
  // Not cache_*, untouched for at least leftover_age; never when newest_mtime is unknown (the
  // epoch: the entry is a mount point).
  bool leftover = false;
};

// A mount under a dind directory, with how long this agent has seen it.
struct DindMountSeen {
  DindMount mount;
  Duration seen_for{};
  bool stale = false;  // its entry is a leftover, or gone, or seen >= leftover_age
};

// Leftovers of docker-in-docker (entries not named cache_*) and the mounts under the dind
// directories that keep `rm` from removing them.
struct DindData : ProbeData {
  static constexpr std::string_view kProbe = "dind";
  std::vector<std::string> dirs;
  Duration leftover_age{};
  std::string sizes_from;  // "scan" or "walk"
  std::vector<DindEntryUsage> entries;
  std::uint64_t leftover_entries = 0;
  std::uint64_t leftover_bytes = 0;
  std::vector<DindMountSeen> mounts;
  std::size_t namespaces = 0;
  bool other_processes_visible = false;

  std::size_t MountCount(bool own) const;
  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

// The dind probe's settings, from `probes.dind`.
struct DindOptions {
  std::vector<std::string> dirs;         // empty: <root>/dind
  std::vector<std::string> other_paths;  // dind paths as other namespaces see them
  Duration leftover_age = std::chrono::hours(1);
  bool other_namespaces = true;
  Duration scan_max_age = std::chrono::minutes(15);  // use ScanData younger than this

  bool operator==(const DindOptions&) const = default;
};

// Reads the probe's own keys from its section; throws ConfigError.
DindOptions ReadDindOptions(ConfigReader& section);
// A dind probe that has seen no mount yet (each mount's `seen_for` counts from its first run).
std::unique_ptr<Probe> NewDindProbe(const DindOptions& options);

}  // namespace cachewarden
