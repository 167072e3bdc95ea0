#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cachewarden {

// The pieces of /proc and of the cgroup filesystem the buildkitd probe reads, as pure parsers and
// small readers under injectable roots. Nothing here keeps state or throws (bar std::bad_alloc).

// Field 22 of /proc/<pid>/stat (starttime, clock ticks after boot); the command in field 2 may hold
// spaces and parentheses, so fields are counted from its last ')'. nullopt if malformed.
std::optional<std::uint64_t> ParseStartTicks(std::string_view stat);
// `btime` of /proc/stat: boot time, seconds since the epoch.
std::optional<std::int64_t> ParseBootTime(std::string_view proc_stat);
// `VmRSS:  1234 kB` of /proc/<pid>/status, in bytes. nullopt without it (a zombie, a kernel
// thread).
std::optional<std::uint64_t> ParseVmRssBytes(std::string_view status);
// The last pid of `NSpid:` in /proc/<pid>/status: the pid as the process's own namespace sees it.
std::optional<int> ParseInnermostPid(std::string_view status);

// Where a process's memory is accounted, from /proc/<pid>/cgroup: the v1 `memory` controller's
// line if there is one (v1 or hybrid), else the v2 `0::` line.
struct CgroupRef {
  int version = 0;   // 1 or 2; 0: none found
  std::string path;  // as the agent's cgroup namespace names it, starting with '/'
};
CgroupRef ParseProcCgroup(std::string_view text);

// The memory figures of one cgroup. v2: memory.max, memory.current, memory.events; v1:
// memory/<path>/memory.limit_in_bytes, memory.usage_in_bytes, memory.oom_control.
struct CgroupMemory {
  std::optional<std::uint64_t> limit_bytes;  // nullopt: no limit ("max", or v1's huge value)
  std::optional<std::uint64_t> usage_bytes;
  std::optional<std::uint64_t> oom_kills;  // `oom_kill` (kernel 4.13 on for v1)
  std::string dir;                         // the directory read
  std::string error;                       // why a figure is missing; empty if all were read
};
// Reads the cgroup `ref` under `cgroup_root`. A path with a `..` component (a cgroup outside the
// agent's cgroup namespace) is not followed: error says so.
CgroupMemory ReadCgroupMemory(const std::string& cgroup_root, const CgroupRef& ref);
// `key N` lines (memory.events, memory.oom_control): N of `key`.
std::optional<std::uint64_t> ParseKeyedCounter(std::string_view text, std::string_view key);

// The environment variables Earthly's buildkitd entrypoint reads that /status shows (their values
// only; no other variable's value ever leaves the probe: secrets live in environ).
inline constexpr std::string_view kShownEnvironment[] = {
    "CACHE_SIZE_MB",         "CACHE_SIZE_PCT",
    "CACHE_KEEP_DURATION",   "BUILDKIT_TCP_TRANSPORT_ENABLED",
    "BUILDKIT_TLS_ENABLED",  "BUILDKIT_MAX_PARALLELISM",
    "EARTHLY_RESET_TMP_DIR", "EARTHLY_TMP_DIR",
};

// A variable that looks like one the entrypoint reads but is not one: nothing reads it.
struct EnvironmentHint {
  std::string name;
  std::string did_you_mean;  // the shown variable it most resembles
};
struct EnvironmentView {
  std::vector<std::pair<std::string, std::string>> shown;  // in kShownEnvironment's order
  std::vector<EnvironmentHint> hints;                      // in environ's order
};
// From the NUL-separated /proc/<pid>/environ. A hint is given only for a name that starts with
// BUILDKIT_, CACHE_ or EARTHLY_, is neither shown nor another variable the entrypoint reads, and is
// within edit distance 2 of a shown name or holds all of its `_`-separated words (EarthBuild's
// chart sets BUILDKIT_CACHE_MAX_SIZE_MB: CACHE_SIZE_MB). Values are cut to 256 bytes, valid UTF-8.
EnvironmentView ViewEnvironment(std::string_view environ);

}  // namespace cachewarden
