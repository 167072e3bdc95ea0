#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config_reader.h"
#include "probes/buildkitd_proc.h"
#include "probes/probe.h"

namespace cachewarden {

// One visible buildkitd process.
struct BuildkitdProcess {
  // The metrics' `slot` label: "0", "1", ... in order of pid namespace, start time and pid, at most
  // max_processes: bounded, where a raw pid would make a new series at every restart.
  std::string slot;
  int pid = 0;                      // as the agent sees it
  int namespace_pid = 0;            // as its own pid namespace sees it (NSpid); 0 unknown
  std::uint64_t pid_namespace = 0;  // inode of ns/pid; 0 unknown
  SystemTime started{};
  std::optional<std::uint64_t> resident_bytes;  // VmRSS
  CgroupRef cgroup;
  CgroupMemory memory;
  bool environ_readable = false;
  EnvironmentView environment;
};

// The buildkitd process(es): present or not, restarts, memory against the cgroup's limit, OOM
// kills, and the environment Earthly's entrypoint reads.
struct BuildkitdData : ProbeData {
  static constexpr std::string_view kProbe = "buildkitd";
  std::string process_name;
  std::vector<BuildkitdProcess> processes;  // at most max_processes
  std::size_t matched = 0;                  // processes of that name, before the cap
  // A process that went away and another (new pid or start time) that came in its place, since the
  // probe started.
  std::uint64_t restarts = 0;
  Duration restart_window{};
  std::int64_t restart_threshold = 0;
  std::size_t restarts_in_window = 0;
  bool crash_loop = false;  // restarts_in_window >= restart_threshold
  // OOM kills seen: rises of a cgroup's oom_kill count between two runs (and the count of a cgroup
  // first seen after the probe's first run).
  std::uint64_t oom_kills = 0;
  SystemTime last_oom_kill{};  // epoch: none seen

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

// The buildkitd probe's settings, from `probes.buildkitd`.
struct BuildkitdOptions {
  std::string process = "buildkitd";  // /proc/<pid>/comm (at most 15 bytes)
  std::string cgroup_root = "/sys/fs/cgroup";
  Duration restart_window = std::chrono::minutes(15);
  std::int64_t restart_threshold = 3;
  std::int64_t max_processes = 8;
  bool read_environment = true;

  bool operator==(const BuildkitdOptions&) const = default;
};

// Reads the probe's own keys from its section; throws ConfigError.
BuildkitdOptions ReadBuildkitdOptions(ConfigReader& section);
// A probe that has seen no process yet: its first run counts no restart and no OOM kill.
std::unique_ptr<Probe> NewBuildkitdProbe(const BuildkitdOptions& options);

}  // namespace cachewarden
