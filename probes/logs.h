#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config_reader.h"
#include "probes/log_config_block.h"
#include "probes/log_discovery.h"
#include "probes/log_follower.h"
#include "probes/log_patterns.h"
#include "probes/probe.h"

namespace cachewarden {

// One recognised line.
struct LogEvent {
  LogEventKind kind;
  SystemTime time{};  // from the line (CRI or time="..."), else when read
  std::string file;
  std::string line;      // valid UTF-8, at most 1 KiB
  std::string entry_id;  // dind entry (dind_busy only)
  std::string path;      // the path rm could not remove (dind_busy only)
  std::string detail;    // the line's figure (LogMatch::detail), valid UTF-8
};

// What buildkitd's logs said since the agent started: cumulative counts per kind, the last time of
// each, and the most recent events.
struct LogsData : ProbeData {
  static constexpr std::string_view kProbe = "logs";
  struct FileState {
    std::string path;
    std::string source;  // "configured", or how it was discovered: "pod", "process"
    std::string detail;  // a discovered file's pod directory or process ("pid 7 stdout -> ...")
    LogFollowerStats stats;
    std::string error;  // of the latest poll, empty if fine
  };
  std::vector<FileState> files;
  // No file configured: where discovery looked ("looked in ..."); empty when files are configured.
  std::string discovery;
  std::array<std::uint64_t, kLogEventKinds> counts{};
  std::array<SystemTime, kLogEventKinds> last_time{};  // epoch: never
  // Set by the fallback line, until buildkitd's next start (the first banner of a start more than
  // kStartBannerGap after it; the `running server on` lines that follow it are the same start).
  bool snapshotter_fallback = false;
  // The tcp:// addresses BuildKit warned, at its latest start, that it serves without TLS (`TLS is
  // not enabled for tcp://...`), in the order logged; at most kMaxPlaintextTcp. Cleared as
  // snapshotter_fallback is.
  std::vector<std::string> plaintext_tcp;
  static constexpr std::size_t kMaxPlaintextTcp = 16;
  std::vector<LogEvent> recent;  // oldest first
  // The figure of the latest event of each kind that has one (exit code, address, wiped directory,
  // GC size), kept when the event itself has left `recent`; empty: none yet.
  std::array<std::string, kLogEventKinds> last_detail{};
  // buildkitd restarts the log shows, for when the process itself is not visible: a start banner
  // after an earlier start or an exit line (banners less than kStartBannerGap apart are one start).
  std::uint64_t restarts = 0;
  std::vector<SystemTime> restart_times;  // the latest kMaxRestartTimes, oldest first
  static constexpr Duration kStartBannerGap = std::chrono::seconds(30);
  static constexpr std::size_t kMaxRestartTimes = 64;
  // The GC settings of the latest buildkitd.toml Earthly's entrypoint printed (the lines between
  // `======== Buildkitd config ==========` and `======== End buildkitd config ==========`, see
  // ConfigBlockCollector), or why they are not known; nullopt: no block has ended yet.
  std::optional<LoggedBuildkitdConfig> logged_config;
  // Their effective GC cap (BuildkitdGcCapFor) for the cache volume's size as the volume probe last
  // measured it (logged_config_disk_bytes; 0 unknown, so a percentage leaves the cap unknown).
  std::optional<BuildkitdGcCap> logged_gc_cap;
  std::uint64_t logged_config_disk_bytes = 0;
  // The latest GC size in MB (MiB) the entrypoint said it chose (EntrypointCacheSizeMb).
  std::optional<std::uint64_t> entrypoint_cache_size_mb;

  // Restarts in restart_times at or after `since`.
  std::size_t RestartsSince(SystemTime since) const;

  std::uint64_t Count(LogEventKind kind) const { return counts[static_cast<std::size_t>(kind)]; }
  SystemTime LastTime(LogEventKind kind) const { return last_time[static_cast<std::size_t>(kind)]; }
  // The most recent event of `kind` still in `recent`, or null.
  const LogEvent* LastEvent(LogEventKind kind) const;

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
  // "following 1 file (pod /var/log/pods/...)", or "no buildkitd log configured or found (looked
  // in ...): set probes.logs.files".
  std::string Summary() const override;
};

// The logs probe's settings, from `probes.logs`.
struct LogsOptions {
  std::vector<LogFollowerOptions> files;  // one follower each, in this order
  // With no `files`: where to look for buildkitd's log, every run.
  LogDiscoveryOptions discover;
  // The settings of the followers of discovered files (their path and start are the discovery's).
  LogFollowerOptions discovered_file;
  std::size_t recent_events = 20;  // events kept in LogsData::recent

  bool operator==(const LogsOptions&) const = default;
};

// Reads the probe's own keys from its section; throws ConfigError.
LogsOptions ReadLogsOptions(ConfigReader& section);
// A logs probe with zero counts whose followers have not polled yet (so each file's `start_at`
// applies to its first poll).
std::unique_ptr<Probe> NewLogsProbe(const LogsOptions& options);

}  // namespace cachewarden
