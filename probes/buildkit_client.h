#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/enum_names.h"
#include "base/status.h"
#include "probes/buildkit_channel.h"

namespace cachewarden {

// What BuildKit's Control API (moby.buildkit.v1.Control) answered, as plain data: no generated
// protobuf type leaves buildkit_client.cc.

struct BuildkitRecord {  // one DiskUsage UsageRecord
  std::string id;
  std::string type;  // RecordType: "regular", "source.local", "exec.cachemount", ...; "" if unset
  std::int64_t size = 0;
  bool in_use = false;
  bool shared = false;
  bool mutable_ = false;
  std::optional<SystemTime> last_used;  // absent for a record never used
  std::optional<SystemTime> created;    // absent where the server does not say
};

struct BuildkitGcPolicy {  // one of a worker's GC policies (ListWorkers)
  bool all = false;
  Duration keep_duration{};         // 0: none
  std::int64_t keep_bytes = 0;      // keepBytes, or reservedSpace from BuildKit 0.17 on; 0: none
  std::int64_t max_used_space = 0;  // BuildKit 0.17 on; 0: not set or not served
  std::int64_t min_free_space = 0;  // BuildKit 0.17 on; 0: not set or not served
  std::vector<std::string> filters;
};

struct BuildkitVersion {
  std::string package, version, revision;
  bool empty() const { return package.empty() && version.empty() && revision.empty(); }
};

// Earthly's fork only (WorkerRecord 101-103): build steps running, the limit
// (BUILDKIT_MAX_PARALLELISM) and steps queued for a slot.
struct BuildkitParallelism {
  std::int64_t current = 0;
  std::int64_t max = 0;
  std::int64_t waiting = 0;
};

// Earthly's fork only (WorkerRecord 104, GCAnalytics): its GC's record of its own runs.
struct BuildkitGcAnalytics {
  std::int64_t recent_runs = 0;      // numRuns: the runs the averages cover (the fork's window)
  std::int64_t recent_failures = 0;  // numFailures: failed runs among them
  Duration avg_duration{};
  std::int64_t all_time_runs = 0;  // since buildkitd started
  Duration all_time_max_duration{};
  std::optional<SystemTime> current_start;  // a run in progress since then; absent: none
  std::int64_t current_size_before = 0;
  std::optional<SystemTime> last_start;  // the latest finished run; absent: none yet
  std::optional<SystemTime> last_end;
  std::int64_t last_size_before = 0;
  std::int64_t last_size_cleared = 0;
  std::int64_t last_records_cleared = 0;
  bool last_success = false;
  // How long the latest finished run took; 0 without one.
  Duration last_duration() const {
    return last_start && last_end && *last_end > *last_start ? *last_end - *last_start : Duration{};
  }
};

struct BuildkitWorker {
  std::string id;
  std::map<std::string, std::string> labels;
  std::vector<std::string> platforms;  // "os/arch[/variant]"
  std::vector<BuildkitGcPolicy> gc_policies;
  BuildkitVersion version;  // empty before BuildKit 0.11
  // Earthly's fork only: absent elsewhere (a server that sends no parallelismMax and no
  // GCAnalytics is not the fork).
  std::optional<BuildkitParallelism> parallelism;
  std::optional<BuildkitGcAnalytics> gc_analytics;
};

// grpc.health.v1's ServingStatus, and kUnknown for a server without the health service.
enum class BuildkitHealth { kUnknown, kServing, kNotServing, kServiceUnknown };
inline constexpr EnumName<BuildkitHealth> kBuildkitHealthNames[] = {
    {BuildkitHealth::kUnknown, "unknown"},
    {BuildkitHealth::kServing, "serving"},
    {BuildkitHealth::kNotServing, "not_serving"},
    {BuildkitHealth::kServiceUnknown, "service_unknown"},
};

// Earthly's fork's Info (InfoResponse 101-102).
struct BuildkitSessions {
  std::int64_t sessions = 0;  // build sessions connected
  std::int64_t idle_seconds = 0;
};

struct BuildkitAnswer {
  std::vector<BuildkitRecord> records;
  std::vector<BuildkitWorker> workers;
  // From Info where the server has it, else from a worker's record, else empty.
  BuildkitVersion version;
  bool info_served = false;  // false: Info is UNIMPLEMENTED there (dockerd 20.10's BuildKit)
  // grpc.health.v1.Health/Check of the server as a whole; kUnknown with health_served false when
  // the server has no health service (UNIMPLEMENTED): not a failure.
  BuildkitHealth health = BuildkitHealth::kUnknown;
  bool health_served = false;
  std::optional<BuildkitSessions> sessions;  // Earthly's fork only (a worker has its fields)
};

// One round trip to the BuildKit at `address`: a fresh connection (for docker-unix, a fresh
// upgraded Docker API connection), then DiskUsage, ListWorkers, Info and Health/Check, each call
// with its own deadline of `call_timeout` (the docker upgrade too), so that a daemon that accepts
// and never answers costs at most five of them. Nothing is kept open between calls of this function
// (no BuildKit lock is held past one call). Returns kTimeout on a deadline, kMissing/kPermission
// when the socket is not there or not ours, kIo for any other transport or server error (the gRPC
// status in the message), kCancelled when `cancel` is set between calls. Thread-safe; blocks the
// caller.
Status QueryBuildkit(const BuildkitAddress& address, Duration call_timeout,
                     const std::atomic<bool>* cancel, BuildkitAnswer* out);

// What a Prune asks BuildKit to free (PruneRequest): every record not in use that passes
// `filters` (containerd filter strings, any of them; none: every record) and is past
// `keep_duration`, shared ones and internal/frontend records only with `all`, and then as far as
// the byte settings allow. `keep_bytes` is field 4: a cap (keepBytes) before BuildKit 0.17 and in
// dockerd's and Earthly's, the reserved floor (reservedSpace) from 0.17 on. `max_used_space` and
// `min_free_space` are BuildKit 0.17's: an older server skips them unread. 0 means unset.
struct BuildkitPruneRequest {
  std::vector<std::string> filters;
  bool all = false;
  Duration keep_duration{};
  std::int64_t keep_bytes = 0;
  std::int64_t max_used_space = 0;
  std::int64_t min_free_space = 0;
};

// One Prune at `address`: a fresh connection (the docker-unix upgrade bounded by
// `connect_timeout`), then the server-streaming call under a deadline of `timeout`. Every record
// the stream reports freed is appended to *freed as it arrives, so a call that fails or is
// cancelled half-way still says what went. A watcher thread reads `cancel` (may be null; must
// outlive the call) every kPruneCancelCheck and cancels the call's context
// (grpc::ClientContext::TryCancel) once it is set. Returns kCancelled then, kTimeout past the
// deadline, kMissing/kPermission/kIo as QueryBuildkit does. Thread-safe; blocks the caller.
Status PruneBuildkit(const BuildkitAddress& address, const BuildkitPruneRequest& request,
                     Duration connect_timeout, Duration timeout, const std::atomic<bool>* cancel,
                     std::vector<BuildkitRecord>* freed);

inline constexpr std::chrono::milliseconds kPruneCancelCheck{100};

}  // namespace cachewarden
