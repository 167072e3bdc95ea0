#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "actions/reaper.h"
#include "base/clock.h"
#include "base/status.h"
#include "policies/gc/gc_config.h"
#include "policies/gc/gc_result.h"
#include "policies/gc/gc_select.h"
#include "probes/buildkit.h"
#include "probes/gc_entries.h"
#include "probes/volume.h"

namespace cachewarden {

// What happened to one planned entry.
struct GcEntryOutcome {
  std::string name;
  std::uint64_t bytes = 0;  // measured before deletion
  Duration age{};
  ReapOutcome reap;
  // Bytes gone: all of `bytes` less its shared_bytes (hard-linked from outside) when the entry was
  // deleted; for an entry deleted in part (errors, a
  // mount), `bytes` less what a second measurement finds left. 0 for a cancelled one: the measuring
  // is cancelled too.
  std::uint64_t freed = 0;
};

struct GcRunResult {
  std::string policy;
  GcResult result = GcResult::kNotTriggered;
  Status status;  // why the policy failed, when it did
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

// Measures of the entries of delete policies, kept between the daemon's runs: per policy name,
// entry name -> its measure and when it was taken. The lock is held for a run's measuring: the
// daemon runs one policy at a time, but a run cancelled at shutdown ends on its own.
struct GcMeasureCache {
  struct Kept {
    GcEntry entry;
    SystemTime at{};
  };
  std::mutex mutex;
  std::map<std::string, std::map<std::string, Kept>> by_policy;
};

// Reads the figures of the volume holding `path` (the cache root) into *out. Called on the GC run's
// thread; must not keep `out`.
using VolumeReader = std::function<Status(const std::string& path, VolumeData* out)>;

struct GcRunOptions {
  std::string root;  // the cache directory
  std::string proc_root = "/proc";
  bool dry_run = false;  // or the policy's own dry_run
  const std::atomic<bool>* cancel = nullptr;
  const Clock* clock = &RealClock::Get();
  // How the run reads the volume: for the plan when RunGcPolicy gets no `volume`, and before and
  // after a command action (what it freed). statvfs in the agent; tests pass their own figures.
  VolumeReader read_volume = StatVolume;
  // Where a prune policy finds BuildKit: `probes.buildkit`'s address list (tried in order, the
  // first that answers DiskUsage is pruned) and its call_timeout (each listing call and the
  // docker-unix upgrade; the Prune itself has the policy's prune_timeout).
  BuildkitOptions buildkit;
  // The daemon's measures of delete policies' entries, kept from run to run (GcPolicy::
  // remeasure_after); null (`cachewarden gc`): every entry is walked.
  std::shared_ptr<GcMeasureCache> measures;
};

// One run of one policy: opens the policy directory beneath the root (refusing symlinks), measures
// its entries, plans with PlanGc, and unless dry-running, deletes exactly the planned entries with
// the reaper (each re-checked by dev/ino), or runs the command. A prune policy, once its triggers
// hold, lists BuildKit's records (DiskUsage) for the plan (PlanPrune) and, unless dry-running,
// sends one Prune: `done` is one kDeleted outcome per record the stream reported, freed_bytes the
// sum of their sizes; no address answering holds the policy back (GcPlan::held_back, result
// not_triggered, one log line) or fails it, as its when_unreachable says. The GC lock is held
// for the Prune as for a delete. `volume` may be null: it is then
// read with `options.read_volume`. Every deletion is logged. Blocks: call it on a thread of its
// own.
GcRunResult RunGcPolicy(const GcPolicy& policy, const VolumeData* volume,
                        const GcRunOptions& options);

}  // namespace cachewarden
