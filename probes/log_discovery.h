#pragma once

#include <string>
#include <vector>

#include "base/config_reader.h"

namespace cachewarden {

// Where the logs probe looks for buildkitd's log when no file is configured
// (`probes.logs.discover`).
struct LogDiscoveryOptions {
  bool enabled = true;
  // Kubernetes: the node's pod logs, `<pods_dir>/<namespace>_<pod>_<uid>/<container>/<N>.log`
  // (kubelet's layout; N counts the container's restarts, the highest is the current one). With
  // the pod's identity (the downward API's POD_NAMESPACE, POD_NAME, POD_UID, as the manifests pass
  // them) only that pod is looked at: the sidecar's own pod. Without it, every pod under
  // `pods_dir` that has a `container` directory (a DaemonSet on a build node).
  std::string pods_dir = "/var/log/pods";
  std::string container = "buildkitd";
  std::string pod_namespace;
  std::string pod_name;
  std::string pod_uid;
  // A visible process of this name whose stdout or stderr is a regular file (buildkitd started
  // with `> file 2>&1`): followed through /proc/<pid>/fd/<n>, whatever mount namespace it is in.
  std::string process = "buildkitd";

  bool operator==(const LogDiscoveryOptions&) const = default;
};

// One log found without configuration.
struct DiscoveredLog {
  std::string path;    // what the follower opens
  std::string source;  // "pod" or "process"
  std::string detail;  // the pod directory, or "pid 12 stdout -> /var/log/buildkitd.log"
};

// At most this many logs are followed by discovery.
inline constexpr std::size_t kMaxDiscoveredLogs = 8;

// The logs found where `options` says to look, pod logs first, one per file (a file that is both
// stdout and stderr counts once), at most kMaxDiscoveredLogs. `*looked` says where it looked, for
// a person to read when nothing was found.
std::vector<DiscoveredLog> DiscoverLogs(const LogDiscoveryOptions& options,
                                        const std::string& proc_root, std::string* looked);

// Reads `discover` (bool, or an object with `pods_dir`, `container`, `pod`, `process`) from the
// logs probe's section; the pod's identity defaults to $POD_NAMESPACE, $POD_NAME and $POD_UID.
LogDiscoveryOptions ReadLogDiscoveryOptions(ConfigReader& section);

}  // namespace cachewarden
