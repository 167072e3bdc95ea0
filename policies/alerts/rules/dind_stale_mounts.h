#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fs/mount_namespaces.h"
#include "policies/alerts/rule.h"

namespace cachewarden {

// DindStaleMounts: mounts under the dind directories that outlived their build keep `rm` of their
// entry from working. A mount is stale when the dind probe says so (its entry is a leftover or
// gone, or it has been there for the probe's `leftover_age`) or when buildkitd's log shows `rm`
// failing on its entry. Fires once that has held for `for` (10m, as the Prometheus rule's), at once
// in `check`.
extern const RuleDef kDindStaleMounts;

struct StaleMountsInput {
  std::string path;  // the (first) dind directory
  struct Mount {
    DindMount mount;
    bool rm_failed = false;  // buildkitd's log shows `rm` failing on its entry
  };
  std::vector<Mount> stale;  // the stale mounts, in the probe's order
  std::size_t mounts = 0;    // all mounts under the dind directories, stale or not
};

// Needs the dind probe's data; reads the logs probe's, when there is any.
std::optional<StaleMountsInput> ExtractStaleMounts(const Snapshot& s, SystemTime now);
void DecideStaleMounts(const StaleMountsInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
