#pragma once

#include <limits>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "policies/alerts/rule.h"
#include "probes/snapshot.h"

namespace cachewarden {

// What the rules under rules/ share: their time arithmetic and the texts more than one of them
// gives. Pure.

// Ages and durations of rule inputs are seconds relative to the evaluation; "never" is +infinity.
inline constexpr double kNever = std::numeric_limits<double>::infinity();

// Seconds from `t` to `now`; kNever for the epoch (it never happened).
double SecondsSince(SystemTime t, SystemTime now);

// "3m", "1h30m"; "never" for kNever.
std::string DurationText(double seconds);

// A candidate; `holds` is the relaxed condition (it is true whenever `fires` is).
Candidate MakeCandidate(Severity severity, bool fires, bool holds, double value);

// The volume probe's cache path, or "" without its data.
std::string CachePath(const Snapshot& s);

// How to free space on the cache: the remedy of the rules that say it is (almost) full.
inline constexpr std::string_view kFreeSpaceRemedy =
    "Free space now: `buildctl prune --keep-storage <MB>` or `earthly prune` (never delete under "
    "buildkit/ behind a running buildkitd), remove dind leftovers that are not cache_*, or grow "
    "the volume; lower CACHE_SIZE_PCT so BuildKit's GC keeps it smaller.";

}  // namespace cachewarden
