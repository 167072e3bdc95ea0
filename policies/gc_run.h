#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "policies/gc_config.h"
#include "policies/gc_select.h"
#include "policies/reaper.h"
#include "probes/clock.h"
#include "probes/status.h"
#include "probes/volume.h"

namespace cachewarden {

// The fixed values of the `result` label of cachewarden_gc_runs_total.
//   not_triggered  no trigger held
//   freed          triggered; something freed, no errors
//   freed_nothing  triggered, but nothing was freed (everything skipped,
//                  failed, or the command freed no space): the state to alert
//                  on
//   partial        freed something, but some entries failed
//   failed         the policy could not run (its directory refused, the
//                  command failed or could not start)
//   cancelled      stopped by shutdown or reload
//   dry_run        the plan only
inline constexpr const char* kGcResults[] = {
    "not_triggered", "freed",     "freed_nothing", "partial",
    "failed",        "cancelled", "dry_run"};

// What happened to one planned entry.
struct GcEntryOutcome {
  std::string name;
  std::uint64_t bytes = 0;  // measured before deletion
  Duration age{};
  ReapOutcome reap;
  // Bytes gone: all of `bytes` when the entry was deleted; for an entry
  // deleted in part (errors, a mount), `bytes` less what a second measurement
  // finds left. 0 for a cancelled one: the measuring is cancelled too.
  std::uint64_t freed = 0;
};

struct GcRunResult {
  std::string policy;
  std::string result;  // one of kGcResults
  Status status;       // why the policy failed, when it did
  bool dry_run = false;
  GcPlan plan;
  std::vector<GcEntryOutcome> done;  // the executed plan items, in order
  std::uint64_t freed_bytes = 0;
  std::uint64_t deleted_entries = 0;
  std::map<SkipReason, std::uint64_t> skipped;  // counted only when triggered
  std::optional<int> command_exit_code;
  std::string command_output;
  SystemTime started{}, finished{};

  nlohmann::json ToJson() const;
};

struct GcRunOptions {
  std::string root;  // the cache directory
  std::string proc_root = "/proc";
  bool dry_run = false;  // or the policy's own dry_run
  const std::atomic<bool>* cancel = nullptr;
  const Clock* clock = &RealClock::Get();
};

// One run of one policy: opens the policy directory beneath the root
// (refusing symlinks), measures its entries, plans with PlanGc, and unless
// dry-running, deletes exactly the planned entries with the reaper (each
// re-checked by dev/ino), or runs the command. `volume` may be null: it is
// then read with statvfs. Every deletion is logged. Blocks: call it on a
// thread of its own.
GcRunResult RunGcPolicy(const GcPolicy& policy, const VolumeData* volume,
                        const GcRunOptions& options);

}  // namespace cachewarden
