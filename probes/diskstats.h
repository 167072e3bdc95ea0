#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/config_reader.h"
#include "probes/probe.h"

namespace cachewarden {

// The `diskstats` probe (passive): the block device under the cache and its averaged latency,
// utilisation and queue depth from /proc/diskstats deltas between two runs (like iostat). The
// device is found from the cache's st_dev through <sys>/dev/block/MAJ:MIN, a partition resolved to
// its disk. Filesystems without a block device (overlay, tmpfs, network: major 0) are said plainly
// in `no_device_reason`, not treated as failures.

// One line of /proc/diskstats (fields 4..14).
struct DiskCounters {
  std::uint64_t reads = 0, read_ms = 0, writes = 0, write_ms = 0;
  std::uint64_t io_ms = 0, weighted_ms = 0;
};

struct DeviceRates {
  double read_await_seconds = 0;   // mean time per completed read
  double write_await_seconds = 0;  // mean time per completed write
  double utilization_ratio = 0;    // busy time / elapsed, in [0, 1]
  double queue_depth = 0;          // mean requests in flight (weighted time / elapsed)
};

// The disk (kernel name, e.g. "sda", "nvme0n1", "loop3", "dm-0") for device MAJ:MIN under
// `sys_root`; "" and a reason when there is none.
std::string ResolveDisk(const std::string& sys_root, unsigned major, unsigned minor,
                        std::string* reason);
// The counters of `device` in a /proc/diskstats text; nullopt if absent.
std::optional<DiskCounters> ParseDiskstats(const std::string& text, const std::string& device);
// Rates between two readings `seconds` apart (counter wraps give zeros).
DeviceRates ComputeRates(const DiskCounters& before, const DiskCounters& after, double seconds);

struct DiskstatsData : ProbeData {
  static constexpr std::string_view kProbe = "diskstats";
  std::string device;            // "" when none
  std::string no_device_reason;  // why there is none
  bool has_rates = false;        // false on the first run (no delta yet)
  DeviceRates rates;
  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

// The diskstats probe has no settings of its own (`probes.diskstats` has only the common keys).
struct DiskstatsOptions {
  bool operator==(const DiskstatsOptions&) const = default;
};

DiskstatsOptions ReadDiskstatsOptions(ConfigReader& section);
// A diskstats probe with no previous reading: its first run reports no rates.
std::unique_ptr<Probe> NewDiskstatsProbe(const DiskstatsOptions& options);

}  // namespace cachewarden
