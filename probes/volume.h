#pragma once

#include <cstdint>
#include <memory>

#include "probes/config_reader.h"
#include "probes/probe.h"

namespace cachewarden {

// statvfs of the cache root: how big the filesystem under the cache is and
// how full, in bytes and inodes.
struct VolumeData : ProbeData {
  static constexpr std::string_view kProbe = "volume";
  std::string path;
  std::uint64_t size_bytes = 0;
  std::uint64_t free_bytes = 0;   // f_bfree: free to root
  std::uint64_t avail_bytes = 0;  // f_bavail: free to unprivileged users
  std::uint64_t files = 0;
  std::uint64_t files_free = 0;
  bool readonly = false;

  // Used fraction as `df` computes it: used / (used + avail), in [0, 1].
  double UsedRatio() const;
  double InodesUsedRatio() const;

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

std::unique_ptr<Probe> NewVolumeProbe(ConfigReader& section);

// The statvfs itself, for one-shot use and tests.
Status StatVolume(const std::string& path, VolumeData* out);

}  // namespace cachewarden
