#pragma once

#include <vector>

#include "policies/alerts/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

// Findings about where the cache lives and what blocks dind cleanup, from the mounts, dind and logs
// probes: the mount verdict (CRITICAL for a container root or a read-only mount, WARNING for
// emptyDir, tmpfs, network and FUSE), stale mounts and leftovers under dind/, and "Resource busy",
// snapshotter fallback and disk-full lines in buildkitd's log. Pure.
void AssessMountsDindLogs(const Snapshot& snapshot, std::vector<Finding>* out);

}  // namespace cachewarden
