#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "base/config_reader.h"
#include "probes/growth.h"
#include "probes/held_files.h"
#include "probes/probe.h"

namespace cachewarden {

// statvfs of the cache root: how big the filesystem under the cache is and how full, in bytes and
// inodes.
struct VolumeData : ProbeData {
  static constexpr std::string_view kProbe = "volume";
  std::string path;
  std::uint64_t size_bytes = 0;
  std::uint64_t free_bytes = 0;   // f_bfree: free to root
  std::uint64_t avail_bytes = 0;  // f_bavail: free to unprivileged users
  std::uint64_t files = 0;
  std::uint64_t files_free = 0;
  bool readonly = false;
  // Least-squares fill rate over the probe's sliding window of samples (of size - avail, and of
  // files - files_free) and the time until avail (or files_free) reaches 0 at that rate; +Inf when
  // not filling. Not valid until the window holds enough samples (probes.volume.growth_*): the
  // metrics are then absent.
  GrowthEstimate bytes_growth;
  GrowthEstimate inodes_growth;
  // Deleted files still held open on the cache's filesystem (probes.volume.deleted_open); absent
  // when off. Refreshed at most every kDeletedOpenEvery, the figures of the last look in between.
  std::optional<DeletedOpenFiles> deleted_open;
  static constexpr Duration kDeletedOpenEvery = std::chrono::seconds(60);

  // Used fraction as `df` computes it: used / (used + avail), in [0, 1].
  double UsedRatio() const;
  double InodesUsedRatio() const;

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

// The volume probe's settings (how it estimates growth), from `probes.volume`.
struct VolumeOptions {
  Duration growth_window = std::chrono::hours(6);
  std::size_t growth_min_samples = 10;
  Duration growth_min_span = std::chrono::minutes(15);
  // Look through /proc for deleted files held open on the cache's filesystem (their bytes are
  // used, and no directory shows them).
  bool deleted_open = true;
  std::size_t deleted_open_max_fds = 200000;  // fd links read per look at most

  bool operator==(const VolumeOptions&) const = default;
};

// Reads the probe's own keys from its section; throws ConfigError.
VolumeOptions ReadVolumeOptions(ConfigReader& section);
// A volume probe with an empty growth window.
std::unique_ptr<Probe> NewVolumeProbe(const VolumeOptions& options);

// {"bytes", "files", "largest": [{"pid", "comm", "path", "bytes"}], "processes",
// "processes_unreadable", "truncated"}: the volume's and the byte budget's JSON.
nlohmann::json DeletedOpenJson(const DeletedOpenFiles& d);

// The statvfs itself, for one-shot use and tests.
Status StatVolume(const std::string& path, VolumeData* out);

}  // namespace cachewarden
