#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "policies/gc/gc_config.h"
#include "policies/gc/gc_select.h"
#include "probes/buildkit_client.h"
#include "probes/volume.h"

namespace cachewarden {

// One term of a BuildKit filter string (containerd's filter syntax, as BuildKit's Prune reads it):
// `field==value`, `field!=value`, `field~=regex`, or a bare `field` (it is set / true). Values
// may be double-quoted. Fields: those BuildKit's prune matches on: id, type, inuse, mutable,
// immutable, shared, private. A record without a type is "regular", as BuildKit counts it.
struct BuildkitFilterTerm {
  enum class Op { kPresent, kEquals, kNotEquals, kMatches };
  std::string field;
  Op op = Op::kPresent;
  std::string value;
};
// The terms of one string (its commas), all of which must hold.
using BuildkitFilter = std::vector<BuildkitFilterTerm>;

// Parses one filter string; false and why in *error (an unknown field, an empty term, a regex that
// does not compile). Pure.
bool ParseBuildkitFilter(std::string_view text, BuildkitFilter* out, std::string* error);

// Whether `record` passes `filters`, any of which may match (none given: every record does), as
// BuildKit's prune judges it (`~=` by std::regex's ECMAScript, close to Go's RE2 for the usual
// forms). Filters that do not parse match nothing. Pure.
bool BuildkitFiltersMatch(const std::vector<std::string>& filters, const BuildkitRecord& record);

// Whether the BuildKit of `version` ("v0.17.0", "0.16.2-...") reads PruneRequest field 4 as
// reservedSpace (a floor; 0.17 on) rather than keepBytes (a cap). Unknown versions: false, as
// dockerd's and Earthly's BuildKit, which report none or an older one.
bool ReservedSpaceSemantics(const std::string& version);

// Fills a prune policy's plan (whose triggers PlanGc has evaluated) with BuildKit's records: what
// a Prune with the policy's settings would free, as BuildKit decides. Not in use; shared ones and
// `internal`/`frontend` records only with `all`; past keep_duration (a record never used is);
// passing the filters. Then, oldest last use first, while a byte setting still wants bytes: the
// cap (max_used_space, or keep_bytes on a server before 0.17, or with neither set the WatermarkCap
// of the plan's need_bytes) above what remains, or the volume's
// available bytes (from `volume`, may be null) below min_free_space; never below the floor
// (keep_bytes on a 0.17 server when a max/min is set). No byte setting: every such record.
// A model of BuildKit's own choice for the dry run: BuildKit may free a parent in a later round,
// or leave a record another build took meanwhile; the real run reports what BuildKit freed. Items
// keep the plan's item conventions: entry.name = record id, entry.bytes = size, decision delete
// (chosen), skip (young: keep_duration; excluded: filters, or shared/internal/frontend without
// `all`), keep (in use, or what the byte settings keep). Pure.
void PlanPrune(const GcPolicy& policy, const std::vector<BuildkitRecord>& records,
               bool reserved_space_semantics, const VolumeData* volume, SystemTime now,
               GcPlan* plan);

// The cap a prune policy with no byte setting of its own (keep_bytes, max_used_space and
// min_free_space all 0) asks BuildKit for when its volume triggers want `need_bytes` freed
// (GcPlan::need_bytes: to reach `until_below` or `free_below`): BuildKit's `total` (the sum of its
// records) less that, so that BuildKit stops at the low watermark instead of freeing every record
// it may. 0 (no cap: every eligible record) when the triggers want no bytes (age or `always`), the
// policy sets a byte setting itself, or BuildKit holds no more than must be freed. Pure.
std::int64_t WatermarkCap(const GcPruneSettings& s, std::int64_t total, std::uint64_t need_bytes);

// The request the policy's settings make. A `watermark_cap` (WatermarkCap) above 0 is sent as
// keepBytes to a server that reads field 4 as a cap, and as maxUsedSpace to one that reads it as
// reservedSpace (`reserved_space_semantics`, BuildKit 0.17 on).
BuildkitPruneRequest PruneRequestOf(const GcPruneSettings& s, std::int64_t watermark_cap = 0,
                                    bool reserved_space_semantics = false);

}  // namespace cachewarden
