#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
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

struct BuildkitWorker {
  std::string id;
  std::map<std::string, std::string> labels;
  std::vector<std::string> platforms;  // "os/arch[/variant]"
  std::vector<BuildkitGcPolicy> gc_policies;
  BuildkitVersion version;  // empty before BuildKit 0.11
};

struct BuildkitAnswer {
  std::vector<BuildkitRecord> records;
  std::vector<BuildkitWorker> workers;
  // From Info where the server has it, else from a worker's record, else empty.
  BuildkitVersion version;
  bool info_served = false;  // false: Info is UNIMPLEMENTED there (dockerd 20.10's BuildKit)
};

// One round trip to the BuildKit at `address`: a fresh connection (for docker-unix, a fresh
// upgraded Docker API connection), then DiskUsage, ListWorkers and Info, each call with its own
// deadline of `call_timeout` (the docker upgrade too), so that a daemon that accepts and never
// answers costs at most four of them. Nothing is kept open between calls of this function (no
// BuildKit lock is held past one call). Returns kTimeout on a deadline, kMissing/kPermission when
// the socket is not there or not ours, kIo for any other transport or server error (the gRPC status
// in the message), kCancelled when `cancel` is set between calls. Thread-safe; blocks the caller.
Status QueryBuildkit(const BuildkitAddress& address, Duration call_timeout,
                     const std::atomic<bool>* cancel, BuildkitAnswer* out);

}  // namespace cachewarden
