#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitGCCapAboveVolume: BuildKit's own GC lets its cache grow past the room it has on the
// volume (the volume's size less what BuildKit does not manage: dind, other, bytes under buildkit/
// it does not count, deleted files still open), or has no byte cap
// at all, so the disk fills before its GC runs (moby/buildkit#1962, earthly/earthly#2078).
extern const RuleDef kBuildkitGCCapAboveVolume;

struct GcCapInput {
  std::string path;
  std::string address;         // the BuildKit that answered
  std::int64_t cap_bytes = 0;  // the largest keepBytes or maxUsedSpace of its policies; 0: none
  std::size_t policies = 0;    // GC policies over all workers
  std::uint64_t volume_bytes = 0;
  std::uint64_t unmanaged_bytes = 0;  // ByteBudget::Unmanaged; 0 before a scan (of the last hour)
  bool scanned = false;
  // Not empty: BuildKit did not answer, and the cap is that of the buildkitd.toml Earthly's
  // entrypoint printed in this log file (the logs probe's logged_gc_cap).
  std::string logged;
  // Not empty: neither answered nor logged; the cap is that of buildkitd's config file, read
  // through /proc/<pid>/root by the exposure probe (this path).
  std::string config_file;
};

// Needs the volume probe's data and one of, in this order: a successful buildkit run, a logged
// buildkitd.toml with a cap, buildkitd's config file with a cap (the scan's data where there is
// one).
std::optional<GcCapInput> ExtractGcCap(const Snapshot& s, SystemTime now);
void DecideGcCap(const GcCapInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
