#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config_reader.h"
#include "probes/buildkit_channel.h"
#include "probes/buildkit_client.h"
#include "probes/probe.h"

namespace cachewarden {

// The `buildkit` probe: BuildKit's own view of its cache, asked over its gRPC Control API
// (DiskUsage, ListWorkers, Info where served) at the first of `probes.buildkit.address` that
// answers. Off by default (a host without a reachable BuildKit would report it failed forever).
// An address that is missing, refuses, or does not answer within `call_timeout` per call is a
// failed run with the reason (every address's, in order): never a stuck run.

struct BuildkitTypeUsage {
  std::int64_t records = 0;
  std::int64_t bytes = 0;
};

// Sums of DiskUsage records, in bytes. `reclaimable` is what `buildctl du` calls reclaimable: the
// records not in use (shared ones included).
struct BuildkitUsage {
  std::int64_t records = 0;
  std::int64_t in_use_records = 0;
  std::int64_t total_bytes = 0;
  std::int64_t in_use_bytes = 0;
  std::int64_t shared_bytes = 0;
  std::int64_t reclaimable_bytes = 0;
  std::map<std::string, BuildkitTypeUsage> by_type;  // by RecordType ("" shown as "unknown")
  std::optional<SystemTime> oldest_last_used;        // of records that have been used
};

BuildkitUsage SummarizeUsage(const std::vector<BuildkitRecord>& records);

// A configured address that did not answer a run, and why (the reason of its QueryBuildkit).
struct BuildkitUnreachable {
  std::string address;  // as configured
  Status status;
};

struct BuildkitData : ProbeData {
  static constexpr std::string_view kProbe = "buildkit";
  std::string address;  // the configured address that answered
  // The addresses tried before it, in order, that did not answer (cachewarden_buildkit_up 0).
  std::vector<BuildkitUnreachable> unreachable;
  BuildkitVersion version;
  bool info_served = false;
  BuildkitHealth health = BuildkitHealth::kUnknown;  // kUnknown too without a health service
  bool health_served = false;
  std::optional<BuildkitSessions> sessions;  // Earthly's fork only
  BuildkitUsage usage;
  std::vector<BuildkitWorker> workers;
  // Not empty: the address answered only through this process's root ("/proc/7/root"): a unix://
  // socket not at its own path here, or a tcp:// address whose tls files are only there.
  std::string reached_through;

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

// What a failed run publishes as its failure (Probe::Collect): every configured address, none of
// which answered, each with its reason. Exports cachewarden_buildkit_up 0 for each; no other
// BuildKit metric (the figures of an earlier run are stale).
struct BuildkitDownData : ProbeData {
  std::vector<BuildkitUnreachable> unreachable;

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

// `probes.buildkit`: `address` (list, tried in order), `call_timeout` (the deadline of each gRPC
// call and of the docker-unix upgrade), `tls` (copied into each tcp:// address) and `process`.
struct BuildkitOptions {
  std::vector<BuildkitAddress> addresses;
  Duration call_timeout = std::chrono::seconds(5);
  // A unix:// socket missing at its path, or a tcp:// address's tls file missing, is tried once
  // more through /proc/<pid>/root of the first process of this name (a sidecar sharing
  // buildkitd's pid namespace, a host agent); "": not.
  std::string process = "buildkitd";
  bool operator==(const BuildkitOptions&) const = default;
};

// Throws ConfigError for an address that is not unix:///path, docker-unix:///path or
// tcp://host:port, an empty list, or a `tls` without `ca`, with a relative path, or with only one
// of `cert` and `key`.
BuildkitOptions ReadBuildkitOptions(ConfigReader& section);
std::unique_ptr<Probe> NewBuildkitProbe(const BuildkitOptions& options);

}  // namespace cachewarden
