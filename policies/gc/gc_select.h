#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/enum_names.h"
#include "policies/gc/gc_config.h"
#include "probes/gc_entries.h"
#include "probes/volume.h"

namespace cachewarden {

// Why an entry is not deleted although the policy was triggered. The fixed label set of
// cachewarden_gc_skipped_entries_total.
// kIncomplete: the walk could not see the whole entry (out of fds, unreadable directories), so its
// age and size are unknown.
// kMountedElsewhere: a mount in some namespace shows the entry under another path (a bind mount of
// it, as `WITH DOCKER` makes at /var/lib/docker): in use there.
// kMountPoint: the entry is itself a mount point (in use as a mount), and the policy does not
// detach stale mounts; with unmount_stale, a stale one (older than min_age by what it shows) is
// planned, detached, and the directory beneath measured and judged again before any delete.
enum class SkipReason {
  kNone,
  kYoung,
  kExcluded,
  kMount,
  kOpen,
  kChanged,
  kError,
  kIncomplete,
  kMountedElsewhere,
  kMountPoint,
};
inline constexpr EnumName<SkipReason> kSkipReasonNames[] = {
    {SkipReason::kNone, "none"},
    {SkipReason::kYoung, "young"},
    {SkipReason::kExcluded, "excluded"},
    {SkipReason::kMount, "mount"},
    {SkipReason::kOpen, "open"},
    {SkipReason::kChanged, "changed"},
    {SkipReason::kError, "error"},
    {SkipReason::kIncomplete, "incomplete"},
    {SkipReason::kMountedElsewhere, "mounted_elsewhere"},
    {SkipReason::kMountPoint, "mount_point"},
};
// The label values: every reason but kNone.
inline constexpr SkipReason kAllSkipReasons[] = {
    SkipReason::kYoung,      SkipReason::kExcluded,         SkipReason::kMount,
    SkipReason::kOpen,       SkipReason::kChanged,          SkipReason::kError,
    SkipReason::kIncomplete, SkipReason::kMountedElsewhere, SkipReason::kMountPoint};
constexpr std::string_view ToString(SkipReason r) {
  return NameIn<SkipReason>(kSkipReasonNames, r);
}

// What the plan does with an entry: JSON's "decision".
enum class GcDecision {
  kDelete,  // chosen
  kSkip,    // a guard forbids it (see SkipReason)
  kKeep,    // allowed, but not needed: target reached, a cap, no trigger
};
inline constexpr EnumName<GcDecision> kGcDecisionNames[] = {
    {GcDecision::kDelete, "delete"},
    {GcDecision::kSkip, "skip"},
    {GcDecision::kKeep, "keep"},
};
constexpr std::string_view ToString(GcDecision d) {
  return NameIn<GcDecision>(kGcDecisionNames, d);
}

// How far in the future an entry's newest time may lie and still be believed (clock skew between a
// build host and the cache's filesystem, NFS). Beyond it the time is reported (`future_mtime`) and
// the entry is aged by its newest ctime instead, which user space cannot set: a `touch -d 2099`
// (or a tar with bad times) no longer keeps an entry young forever; it ages from the change.
inline constexpr Duration kFutureTimeSkew = std::chrono::minutes(5);

struct GcPlanItem {
  GcEntry entry;
  // now - entry.newest, never negative; now - entry.newest_ctime when entry.newest is more than
  // kFutureTimeSkew ahead (0 if that is ahead too: the clock went back).
  Duration age{};
  bool future_mtime = false;  // entry.newest is more than kFutureTimeSkew ahead of now
  // The entry could be measured (entry.error is ""): else `age` and the sizes mean nothing, and
  // JSON's age_seconds is null (text: "-").
  bool measured() const { return entry.error.empty(); }
  GcDecision decision = GcDecision::kKeep;
  SkipReason skip = SkipReason::kNone;
  std::string why;  // for people: "idle over 24h", "young (idle 2h < min_age 6h)"
};

// What a policy would do with one state of the disk: the dry run prints it, the real run executes
// exactly it.
struct GcPlan {
  std::string policy;
  bool triggered = false;
  std::vector<std::string> triggers;  // which triggers hold, e.g. "used 91% > 85%"
  std::uint64_t need_bytes = 0;       // to reach the low watermark(s)
  std::uint64_t need_inodes = 0;
  std::uint64_t planned_bytes = 0;  // sum over kDelete items of what they free (bytes - shared)
  // Sum over kDelete items of their shared_bytes: hard-linked from outside, not freed.
  std::uint64_t planned_shared_bytes = 0;
  std::size_t planned_entries = 0;
  std::size_t future_mtime_entries = 0;  // items with future_mtime
  std::vector<GcPlanItem> items;         // in the policy's order: chosen ones first come first
  // Why a policy whose triggers hold does not act ("" when it acts or none holds): a prune
  // policy's BuildKit answering at no address. `triggered` is false then; `triggers` still lists
  // what held.
  std::string held_back;
  // A prune policy: the BuildKit address that answered (its records are the items), else "".
  std::string buildkit_address;

  nlohmann::json ToJson() const;
};

// Pure: decides from the measured entries, the volume (may be null: the volume triggers then do not
// fire) and the time. Guards are applied first (excluded, error, incomplete, mount_point, young,
// mounted_elsewhere, mount, open),
// then eligible entries are taken in the policy's order while a trigger still wants them
// (older_than, always, or bytes/inodes still short of the low watermark), within max_entries and
// max_bytes.
GcPlan PlanGc(const GcPolicy& policy, const std::vector<GcEntry>& entries, const VolumeData* volume,
              SystemTime now);

// Whether `name` passes the policy's include and exclude globs (fnmatch, FNM_PERIOD off: ".hidden"
// matches "*").
bool GcNameIncluded(const GcPolicy& policy, const std::string& name);

// Why an entry with `foreign_mount` (see GcEntry) is skipped.
std::string ForeignMountReason(const std::string& foreign_mount);

}  // namespace cachewarden
