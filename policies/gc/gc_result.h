#pragma once

#include <string_view>

#include "base/enum_names.h"

namespace cachewarden {

// How one run of one GC policy ended: the fixed values of the `result` label of
// cachewarden_gc_runs_total, of JSON's "result" and of the logs.
enum class GcResult {
  kNotTriggered,  // no trigger held
  kFreed,         // triggered; something freed, no errors
  // Triggered, but nothing was freed (everything skipped, failed, or the command freed no space):
  // the state to alert on.
  kFreedNothing,
  kPartial,    // freed something, but some entries failed
  kFailed,     // the policy could not run, or every chosen entry failed
  kCancelled,  // stopped by shutdown or reload
  kDryRun,     // the plan only
};

inline constexpr EnumName<GcResult> kGcResultNames[] = {
    {GcResult::kNotTriggered, "not_triggered"},
    {GcResult::kFreed, "freed"},
    {GcResult::kFreedNothing, "freed_nothing"},
    {GcResult::kPartial, "partial"},
    {GcResult::kFailed, "failed"},
    {GcResult::kCancelled, "cancelled"},
    {GcResult::kDryRun, "dry_run"},
};

constexpr std::string_view ToString(GcResult r) { return NameIn<GcResult>(kGcResultNames, r); }

}  // namespace cachewarden
