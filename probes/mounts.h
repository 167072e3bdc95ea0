#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/config_reader.h"
#include "fs/mountinfo.h"
#include "probes/mount_classifier.h"
#include "probes/probe.h"

namespace cachewarden {

// What holds the cache: the mount found in <proc>/self/mountinfo for the cache root's real path,
// and its classification.
struct MountsData : ProbeData {
  static constexpr std::string_view kProbe = "mounts";
  std::string cache_root;     // as configured
  std::string resolved_path;  // real path used for the lookup
  MountEntry holder;
  MountVerdict verdict;
  std::optional<std::uint64_t> statfs_type;  // f_type, if statfs worked
  std::size_t mount_count = 0;
  int malformed_lines = 0;

  bool is_volume() const { return IsVolumeKind(verdict.kind); }
  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

// The mounts probe has no settings of its own (`probes.mounts` has only the common keys).
struct MountsOptions {
  bool operator==(const MountsOptions&) const = default;
};

MountsOptions ReadMountsOptions(ConfigReader& section);
std::unique_ptr<Probe> NewMountsProbe(const MountsOptions& options);

// The real path of `path`, or, when it does not exist yet, the real path of its deepest existing
// ancestor with the rest appended. `existing` receives that ancestor (the path statfs can look at).
std::string ResolveCachePath(const std::string& path, std::string* existing);

// One collection, for the probe and for tests.
Status CollectMounts(const ProbeContext& ctx, MountsData* out);

}  // namespace cachewarden
