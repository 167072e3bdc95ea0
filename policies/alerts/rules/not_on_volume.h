#pragma once

#include <optional>
#include <string>

#include "policies/alerts/rule.h"
#include "probes/mount_classifier.h"

namespace cachewarden {

// CacheNotOnVolume: the cache is on storage BuildKit cannot use well. Critical when it is read-only
// or on a container's overlay root; a warning (labelled with the kind) on an emptyDir, tmpfs, a
// network or a FUSE filesystem. Fires at once: the storage does not change by waiting.
extern const RuleDef kCacheNotOnVolume;

struct NotOnVolumeInput {
  std::string path;       // the cache root
  bool readonly = false;  // statvfs says so, or the mount that holds the cache is mounted ro
  // What holds the cache (the mounts probe's verdict); nullopt while that probe has no data.
  std::optional<MountKind> kind;
  // Of the mount that holds the cache, for the texts; empty when not known.
  std::string fstype;
  std::string mount_point;
  std::string reason;  // the classifier's words for the kind
};

// How each kind of storage does as a home for the cache: kCritical, kWarning or kOk. The verdict of
// the rule, for `check` and the alert alike; the Prometheus rules' `kind` lists follow it.
Severity MountKindSeverity(MountKind kind);

// Needs the volume or the mounts probe's data.
std::optional<NotOnVolumeInput> ExtractNotOnVolume(const Snapshot& s, SystemTime now);
void DecideNotOnVolume(const NotOnVolumeInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
