#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace cachewarden {

// The figures each alert rule decides on, extracted from the Snapshot by one small function per
// rule (policies/alert_rules.h). Plain values, so that a rule's decision is a pure function a test
// can drive directly. Times are ages or durations in seconds relative to the evaluation; "never" is
// +infinity.

constexpr double kNever = std::numeric_limits<double>::infinity();

struct NotOnVolumeInput {
  std::string path;
  bool readonly = false;
  // The mounts probe's verdict on what holds the cache ("volume", "container_root", "k8s_emptydir",
  // "tmpfs", "network", "host_bind"), or empty when unknown.
  std::string kind;
  std::string fstype;  // for the message; may be empty
};

// Bytes or inodes of the cache filesystem.
struct UsageInput {
  std::string path;
  double used_percent = 0;  // 0..100
  double used = 0;          // bytes or inodes
  double total = 0;
};

struct FillingUpInput {
  std::string path;
  double free_percent = 100;               // avail / size, 0..100
  double predicted_full_seconds = kNever;  // linear prediction; kNever if not filling
  double fill_rate_bytes_per_second = 0;
};

struct LatencyInput {
  std::string path;
  // Per operation ("read", "write", "fsync", "metadata"): p99 over the rule's window, in seconds;
  // an op without samples in the window is left out.
  std::vector<std::pair<std::string, double>> p99_seconds;
};

struct StaleMountsInput {
  std::string path;  // the dind directory
  // The mounts that outlived their build (DindMountSeen::stale), with how long each has been seen.
  struct Mount {
    std::string mount_point;
    double age_seconds = 0;
  };
  std::vector<Mount> mounts;
};

// A kind of log event: how many in the rule's window, and how long ago the last one was.
struct LogEventInput {
  std::string path;
  double seconds_since_last = kNever;
  std::string last_line;  // an example for the description; may be empty
};

struct LeftoversInput {
  std::string path;  // the dind directory
  double bytes = 0;
  double entries = 0;
};

struct FallbackInput {
  std::string path;
  bool fell_back = false;
  std::string snapshotter;  // what BuildKit uses now ("native"), if known
};

struct GcInput {
  std::string path;
  // Each policy whose trigger holds.
  struct Policy {
    std::string name;
    double trigger_held_seconds = 0;  // without a run freeing anything
    double runs = 0;                  // since then
    double failed_runs = 0;
  };
  std::vector<Policy> policies;
};

struct IoErrorsInput {
  std::string path;
  bool probe_eio = false;                   // the latest active I/O probe got EIO
  double seconds_since_log_error = kNever;  // "input/output error" in the logs
};

struct ProbesInput {
  std::string path;  // the cache, when known
  struct Probe {
    std::string name;
    bool failing = false;
    std::string reason;
    std::string error;
    int consecutive_failures = 0;
  };
  std::vector<Probe> probes;
};

}  // namespace cachewarden
