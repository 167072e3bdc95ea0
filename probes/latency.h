#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/config_reader.h"
#include "base/enum_names.h"
#include "probes/probe.h"

namespace cachewarden {

// The `latency` probe: an active, ioping-like check of the cache's own disk. Each run, in
// <root>/.cachewarden/: writes one 4 KiB block (op "write"), fdatasync (op "fsync"), reads back a 4
// KiB block written earlier, uncached (op "read": O_DIRECT, or where the filesystem refuses it, as
// tmpfs does, posix_fadvise(DONTNEED) then a plain read: mode "fadvise"), and creates and unlinks a
// small file (op "metadata"). Blocks are spread over a sparse working set (default 64 MiB) so
// repeated reads do not hit a device cache. The first run after start is a warm-up and is not
// recorded. The probe file is made at the first run and removed by Retire(); it is made afresh when
// the root's identity (st_dev, st_ino, mount id) changes (the cache removed and made again, a
// filesystem mounted over it) or the file went. Nothing is held open between runs: every run opens
// the root, the directory and the file and closes them at its end, so the probe never keeps a
// removed cache's inode alive or makes `mount -o remount,ro` fail with EBUSY (holding the file
// only while timing would save three opens a run and measure the same). A run fails, with the
// reason, when the root is gone (kMissing), is now a symlink or <root>/.cachewarden is one
// (kSymlink, never followed), or is read-only (EROFS on opening the file); it recovers by itself at
// the next run once the root is back.

enum LatencyOp { kOpRead, kOpWrite, kOpFsync, kOpMetadata, kOpCount };
const char* LatencyOpName(int op);

// How the probe reads uncached: the `mode` label of cachewarden_io_probe_mode and JSON's "mode".
enum class LatencyReadMode { kDirect, kFadvise };
inline constexpr EnumName<LatencyReadMode> kLatencyReadModeNames[] = {
    {LatencyReadMode::kDirect, "direct"},    // O_DIRECT
    {LatencyReadMode::kFadvise, "fadvise"},  // posix_fadvise(DONTNEED), then a plain read
};
constexpr std::string_view ToString(LatencyReadMode m) {
  return NameIn<LatencyReadMode>(kLatencyReadModeNames, m);
}

struct LatencyData : ProbeData {
  static constexpr std::string_view kProbe = "latency";
  LatencyReadMode mode = LatencyReadMode::kDirect;
  bool warmup = false;                            // this run was the warm-up: nothing recorded yet
  std::array<double, kOpCount> last_seconds{};    // -1 when the op failed or never ran
  std::array<double, kOpCount> median_seconds{};  // over recent runs, -1 if none
  std::array<HistogramValue, kOpCount> histograms;  // cumulative since start
  // Each op's recorded latencies of the last hour (at most kMaxWindowSamples), oldest first: what a
  // percentile over a time window is taken from.
  struct Sample {
    SystemTime at;
    double seconds = 0;
  };
  static constexpr std::size_t kMaxWindowSamples = 4096;
  static constexpr Duration kWindowKept = std::chrono::hours(1);
  std::array<std::vector<Sample>, kOpCount> window;
  bool eio = false;  // an operation of this run failed with EIO
  // Cumulative errors by errno class ("ENOSPC", "EIO", "EROFS", "EDQUOT", "other").
  std::map<std::string, std::uint64_t> errors;

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

struct LatencyOptions {
  std::uint64_t working_set_bytes = 64ull << 20;
  std::size_t recent = 60;  // runs the median is taken over
  // Try O_DIRECT reads; false always drops the page cache instead (storage that accepts O_DIRECT
  // but does not honour it). Since Linux 6.6 tmpfs accepts O_DIRECT too (a memory copy either way).
  bool direct = true;
  // In a one-shot mode (ProbeContext::one_shot), the measured runs taken right after the warm-up.
  int oneshot_samples = 5;

  bool operator==(const LatencyOptions&) const = default;
};

// Reads the probe's own keys from its section (`probes.latency`); throws ConfigError.
LatencyOptions ReadLatencyOptions(ConfigReader& section);
// A latency probe before its warm-up run, with no samples. It creates nothing until its first run.
std::unique_ptr<Probe> NewLatencyProbe(const LatencyOptions& options);

// The histogram buckets: 50 µs to 10 s.
std::vector<double> LatencyBuckets();

// The nearest-rank quantile q (0..1) of `op`'s samples taken after `since`; nullopt when there are
// none.
std::optional<double> WindowQuantile(const LatencyData& data, int op, SystemTime since, double q);

}  // namespace cachewarden
