#include "actions/gc_run.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "actions/command.h"
#include "base/log.h"
#include "base/text.h"
#include "fs/dirfd.h"
#include "policies/gc/gc_prune.h"
#include "probes/buildkit_client.h"
#include "probes/gc_entries.h"

namespace cachewarden {
namespace {

bool Cancelled(const GcRunOptions& o) { return o.cancel != nullptr && o.cancel->load(); }

// One GC run at a time per cache, also between the agent and a `cachewarden gc` from a shell: an
// exclusive flock on the cache root directory itself (no file is created), held while the run
// deletes or runs its command.
Status LockGc(const std::string& root, UniqueFd* lock) {
  lock->Reset(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (lock->get() < 0) return PosixError("open", root, errno);
  if (::flock(lock->get(), LOCK_EX | LOCK_NB) == 0) return Status::Ok();
  const int err = errno;
  if (err != EWOULDBLOCK) return PosixError("flock", root, err);
  return Status::Error(StatusCode::kBusy,
                       "another GC run (the agent's, or a `cachewarden gc`) is running on this "
                       "cache; this one waits for the next interval",
                       err, root);
}

// The cache root as /proc's links and mount tables name it (resolved), and as configured, each
// spelled once (NormalizePath): a root of "/" or "/tmp/earthly//" must match too.
std::vector<std::string> RootSpellings(const GcRunOptions& o) {
  std::string configured = NormalizePath(o.root);
  char resolved[PATH_MAX];
  std::vector<std::string> out = {
      ::realpath(configured.c_str(), resolved) != nullptr ? std::string(resolved) : configured};
  if (configured != out[0]) out.push_back(configured);
  return out;
}

// Mounts at or under the policy directory's entries, in every mount namespace visible in proc_root.
Status ScanEntryMounts(const GcPolicy& policy, const GcRunOptions& o,
                       std::map<std::string, EntryMounts>* out) {
  std::vector<std::string> dirs;
  for (const auto& root : RootSpellings(o)) dirs.push_back(JoinPath(root, policy.path));
  int unreadable = 0;
  Status s = MountsUnderEntries(o.proc_root, dirs, out, &unreadable);
  if (!s.ok()) {
    return Status::Error(StatusCode::kMounts,
                         "cannot look for mounts under the entries: " + s.ToString(),
                         s.error_number());
  }
  if (unreadable > 0) {
    LogWarn("gc could not read the mount table of some mount namespaces",
            {{"policy", policy.name}, {"namespaces", unreadable}});
  }
  return Status::Ok();
}

EntryMeasureOptions MeasureOptionsOf(const GcPolicy& policy, const std::atomic<bool>* cancel) {
  EntryMeasureOptions m;
  m.age_by = policy.age_by;
  m.walk.workers = policy.workers;
  m.walk.cancel = cancel;
  return m;
}

// What one run learns of all the entries at once, never kept from run to run: the mounts at or
// under them in every namespace and, with skip_open, which ones are held open.
struct EntryFacts {
  std::map<std::string, EntryMounts> mounts;
  std::set<std::string> held;
};

void ApplyFacts(const EntryFacts& facts, GcEntry* e) {
  if (auto it = facts.mounts.find(e->name); it != facts.mounts.end()) {
    e->has_mount = e->has_mount || it->second.own || !it->second.foreign.empty();
    e->foreign_mount = it->second.foreign;
    e->mounted_elsewhere = it->second.elsewhere;
    e->mount_point = e->mount_point || it->second.own_at_entry;
  }
  e->open = facts.held.contains(e->name);
}

// The measures this policy keeps from run to run, with their lock taken; null when it keeps none
// (`cachewarden gc`, remeasure_after 0, or an action other than delete, whose triggers need every
// entry as it is now).
std::map<std::string, GcMeasureCache::Kept>* KeptMeasures(const GcPolicy& policy,
                                                          const GcRunOptions& o,
                                                          std::unique_lock<std::mutex>* lock) {
  if (o.measures == nullptr || policy.action != GcAction::kDelete ||
      policy.remeasure_after <= Duration(0))
    return nullptr;
  *lock = std::unique_lock<std::mutex>(o.measures->mutex);
  return &o.measures->by_policy[policy.name];
}

// Whether a measure may stand for later runs: one that saw the whole entry as itself.
bool Keepable(const GcEntry& e) {
  return e.error.empty() && e.incomplete.empty() && !e.mount_point;
}

// The kept measure of `name` if it may stand for this run's: taken less than remeasure_after ago,
// of the file the entry still is (dev, ino); else null.
const GcMeasureCache::Kept* Reusable(const std::map<std::string, GcMeasureCache::Kept>* kept,
                                     const GcPolicy& policy, int dir_fd, const std::string& name,
                                     SystemTime now) {
  if (kept == nullptr) return nullptr;
  auto it = kept->find(name);
  if (it == kept->end() || now - it->second.at >= policy.remeasure_after) return nullptr;
  struct statx sx;
  if (StatxNoFollow(dir_fd, name.c_str(), &sx) != 0 || DevOf(sx) != it->second.entry.dev ||
      sx.stx_ino != it->second.entry.ino)
    return nullptr;
  return &it->second;
}

// Measures every entry of the policy directory, or takes an earlier run's measure of it
// (Reusable). For the delete action, also looks for mounts under them in every mount namespace:
// the walker sees only our own (by device), and rmdir of a mount point of another namespace
// succeeds and silently detaches it there.
Status MeasureAll(const GcPolicy& policy, const GcRunOptions& o, int dir_fd,
                  std::vector<GcEntry>* entries, EntryFacts* facts) {
  std::vector<DirName> names;
  if (int err = ReadDirNames(dir_fd, &names); err != 0) {
    return PosixError("list", JoinPath(o.root, policy.path), err);
  }
  if (policy.action == GcAction::kDelete && !names.empty()) {
    if (Status s = ScanEntryMounts(policy, o, &facts->mounts); !s.ok()) return s;
  }
  std::unique_lock<std::mutex> lock;
  auto* kept = KeptMeasures(policy, o, &lock);
  std::map<std::string, GcMeasureCache::Kept> still;  // what is kept after this run
  const SystemTime now = o.clock->Now();
  for (const auto& d : names) {
    if (Cancelled(o)) return Status::Error(StatusCode::kCancelled, "cancelled while measuring");
    GcEntry e;
    // Excluded entries are measured too: their size and age matter to the operator.
    if (const GcMeasureCache::Kept* k = Reusable(kept, policy, dir_fd, d.name, now)) {
      still[d.name] = *k;
      e = k->entry;
      e.reused = true;
    } else {
      MeasureGcEntry(dir_fd, d.name, MeasureOptionsOf(policy, o.cancel), &e);
      if (kept != nullptr && Keepable(e)) still[d.name] = {e, now};
    }
    entries->push_back(std::move(e));
  }
  if (kept != nullptr) *kept = std::move(still);
  if (policy.skip_open && !entries->empty()) {
    // By identity: a process may see an entry under another path (another namespace, a bind).
    EntryIds ids;
    for (const GcEntry& e : *entries) {
      if (e.error.empty() && e.dev != 0) ids[{e.dev, e.ino}] = e.name;
    }
    struct statx dir_sx;
    const std::uint64_t dev = StatxNoFollow(dir_fd, "", &dir_sx) == 0 ? DevOf(dir_sx) : 0;
    facts->held =
        EntriesHeldOpen(o.proc_root, JoinPath(RootSpellings(o)[0], policy.path), ids, dev);
  }
  for (GcEntry& e : *entries) ApplyFacts(*facts, &e);
  return Status::Ok();
}

// A plan made in part on earlier runs' measures: every entry it would delete on such a measure is
// walked now (and judged with this run's mounts and open files), and the plan is made again, until
// every entry it deletes was walked by this run. An entry found replaced (another dev, ino) is
// skipped: its open files were looked for under the old identity. Each entry is walked at most once
// more, so this ends. Dry runs too: their plan is the one a real run would carry out.
Status MeasureChosenAgain(const GcPolicy& policy, const GcRunOptions& o, int dir_fd,
                          const EntryFacts& facts, const VolumeData* volume,
                          std::vector<GcEntry>* entries, GcPlan* plan) {
  for (;;) {
    std::set<std::string> chosen;
    for (const GcPlanItem& item : plan->items) {
      if (item.decision == GcDecision::kDelete && item.entry.reused) chosen.insert(item.entry.name);
    }
    if (chosen.empty()) return Status::Ok();
    std::unique_lock<std::mutex> lock;
    auto* kept = KeptMeasures(policy, o, &lock);
    for (GcEntry& e : *entries) {
      if (!chosen.contains(e.name)) continue;
      if (Cancelled(o)) return Status::Error(StatusCode::kCancelled, "cancelled while measuring");
      GcEntry fresh;
      MeasureGcEntry(dir_fd, e.name, MeasureOptionsOf(policy, o.cancel), &fresh);
      if (fresh.error.empty() && (fresh.dev != e.dev || fresh.ino != e.ino)) {
        fresh.error = "replaced since an earlier run measured it";
      }
      if (kept != nullptr) {
        if (Keepable(fresh)) {
          (*kept)[e.name] = {fresh, o.clock->Now()};
        } else {
          kept->erase(e.name);
        }
      }
      ApplyFacts(facts, &fresh);
      e = std::move(fresh);
    }
    *plan = PlanGc(policy, *entries, volume, o.clock->Now());
  }
}

// Looks again, just before deleting `name`, for a mount that appeared in another namespace since
// planning. "" if the entry may go; else why not, with *reap filled in.
std::string MountAppeared(const GcPolicy& policy, const GcRunOptions& o, const std::string& name,
                          ReapOutcome* reap) {
  std::map<std::string, EntryMounts> mounts;
  if (Status s = ScanEntryMounts(policy, o, &mounts); !s.ok()) {
    reap->result = ReapResult::kError;
    reap->errors = 1;
    reap->first_errors.push_back({name, s.error_number() != 0 ? s.error_number() : EIO, "mounts"});
    return s.ToString();
  }
  auto it = mounts.find(name);
  if (it == mounts.end()) return "";
  if (!it->second.elsewhere.empty()) {
    reap->result = ReapResult::kMount;
    return "in use: mounted elsewhere at " + it->second.elsewhere;
  }
  if (!it->second.foreign.empty()) {
    reap->result = ReapResult::kMount;
    return ForeignMountReason(it->second.foreign);
  }
  if (it->second.own && !policy.unmount_stale) {
    // Mounted in our own namespace since planning: not ours to detach.
    reap->result = ReapResult::kMount;
    return "a mount point inside appeared after planning (unmount_stale is off)";
  }
  return "";
}

void CountReap(const ReapOutcome& r, GcRunResult* out) {
  switch (r.result) {
    case ReapResult::kChanged:
      out->skipped[SkipReason::kChanged]++;
      break;
    case ReapResult::kMount:
      out->skipped[SkipReason::kMount]++;
      break;
    case ReapResult::kError:
      out->skipped[SkipReason::kError]++;
      break;
    default:
      break;
  }
}

// What deleting part of `entry` freed: its size before less what is left (measured again, only when
// something was removed). 0 when the measuring is cancelled too: a shutdown does not wait for it.
std::uint64_t FreedInPart(int dir_fd, const GcEntry& entry, const GcPolicy& policy,
                          const ReapOutcome& reap, const std::atomic<bool>* cancel) {
  if (reap.removed == 0) return 0;
  GcEntry rest;
  MeasureGcEntry(dir_fd, entry.name, MeasureOptionsOf(policy, cancel), &rest);
  if (!rest.error.empty() || !rest.incomplete.empty() || rest.dev != entry.dev ||
      rest.ino != entry.ino)
    return 0;
  return entry.bytes > rest.bytes ? entry.bytes - rest.bytes : 0;
}

// An entry planned as a stale mount (GcEntry::mount_point, unmount_stale): detaches the mount if
// the entry still is the one planned (dev, ino of the mount's root), measures the directory beneath
// and judges it again with the policy's guards (min_age, mounts, open files, a partial walk).
// "" if the directory beneath may be deleted, with *beneath its measure; else why not, with *reap
// filled in.
std::string DetachStaleMount(const GcPolicy& policy, const GcRunOptions& o, int dir_fd,
                             const GcEntry& planned, GcEntry* beneath, ReapOutcome* reap) {
  UniqueFd fd(OpenDirNoFollow(dir_fd, planned.name.c_str()));
  struct statx sx;
  if (!fd.valid() || StatxNoFollow(fd.get(), "", &sx) != 0 || DevOf(sx) != planned.dev ||
      sx.stx_ino != planned.ino) {
    reap->result = ReapResult::kChanged;
    return "the mount at the entry changed since planning";
  }
  const std::string self = fmt::format("/proc/self/fd/{}", fd.get());
  if (::umount2(self.c_str(), MNT_DETACH) != 0) {
    const int err = errno;
    reap->result = ReapResult::kMount;
    reap->errors = 1;
    reap->first_errors.push_back({planned.name, err, "umount"});
    return fmt::format("cannot detach the mount at the entry: {}", std::strerror(err));
  }
  fd.Reset();
  reap->unmounted = 1;
  LogInfo("gc detached a mount at an entry", {{"policy", policy.name}, {"entry", planned.name}});
  MeasureGcEntry(dir_fd, planned.name, MeasureOptionsOf(policy, o.cancel), beneath);
  if (beneath->error.empty() && policy.skip_open) {
    EntryIds ids = {{{beneath->dev, beneath->ino}, beneath->name}};
    beneath->open =
        EntriesHeldOpen(o.proc_root, JoinPath(RootSpellings(o)[0], policy.path), ids, beneath->dev)
            .contains(beneath->name);
  }
  // The same guards as the plan's, on the directory beneath alone; its triggers already held.
  GcPolicy again = policy;
  again.triggers = GcTriggers{};
  again.triggers.always = true;
  again.max_entries = 0;
  again.max_bytes = 0;
  GcPlan plan = PlanGc(again, {*beneath}, nullptr, o.clock->Now());
  const GcPlanItem& item = plan.items.front();
  if (item.decision == GcDecision::kDelete) return "";
  reap->result = item.skip == SkipReason::kMount || item.skip == SkipReason::kMountPoint
                     ? ReapResult::kMount
                     : ReapResult::kChanged;
  return "detached a stale mount; the directory beneath is kept: " + item.why;
}

void RunDeletes(const GcPolicy& policy, const GcRunOptions& o, int dir_fd, GcRunResult* out) {
  ReapOptions ro;
  ro.threads = policy.workers.threads;
  ro.max_delete_rate = policy.max_delete_rate;
  ro.unmount_stale = policy.unmount_stale;
  ro.cancel = o.cancel;
  bool errors = false;
  bool in_part = false;  // an entry was deleted in part
  for (const GcPlanItem& item : out->plan.items) {
    if (item.decision != GcDecision::kDelete) continue;
    if (Cancelled(o)) break;
    GcEntryOutcome done{item.entry.name, item.entry.bytes, item.age, {}};
    GcEntry target = item.entry;
    std::string refused = MountAppeared(policy, o, item.entry.name, &done.reap);
    if (refused.empty() && item.entry.mount_point) {
      refused = DetachStaleMount(policy, o, dir_fd, item.entry, &target, &done.reap);
      done.bytes = target.bytes;
    }
    if (refused.empty()) {
      const std::uint64_t unmounted = done.reap.unmounted;
      done.reap = ReapEntry(dir_fd, target.name, target.dev, target.ino, ro);
      done.reap.unmounted += unmounted;
    }
    nlohmann::json fields = {{"policy", policy.name},
                             {"entry", item.entry.name},
                             {"bytes", done.bytes},
                             {"age_seconds", static_cast<std::int64_t>(ToSeconds(item.age))},
                             {"result", ToString(done.reap.result)},
                             {"removed", done.reap.removed}};
    if (done.reap.result == ReapResult::kDeleted) {
      done.freed = target.bytes - target.shared_bytes;  // hard links from outside stay
      out->freed_bytes += done.freed;
      out->deleted_entries++;
      LogInfo("gc deleted an entry", fields);
    } else {
      done.freed = FreedInPart(dir_fd, target, policy, done.reap, o.cancel);
      out->freed_bytes += done.freed;
      in_part = in_part || done.freed > 0;
      fields["freed_bytes"] = done.freed;
      if (done.reap.errors > 0) {
        errors = true;
        nlohmann::json errs = nlohmann::json::array();
        for (const auto& e : done.reap.first_errors) {
          errs.push_back({{"path", e.path}, {"op", e.what}, {"error", std::strerror(e.error)}});
        }
        fields["errors"] = done.reap.errors;
        fields["first_errors"] = errs;
      }
      if (!refused.empty()) fields["reason"] = refused;
      LogWarn("gc did not delete an entry", fields);
    }
    CountReap(done.reap, out);
    out->done.push_back(std::move(done));
  }
  if (Cancelled(o)) {
    out->result = GcResult::kCancelled;
  } else if (out->deleted_entries == 0 && errors && out->freed_bytes == 0) {
    out->result = GcResult::kFailed;  // entries were chosen, and every one failed
    out->status =
        Status::Error(StatusCode::kError, "no chosen entry could be deleted; see the log");
  } else if (out->deleted_entries == 0 && out->freed_bytes == 0) {
    out->result = GcResult::kFreedNothing;
  } else {
    out->result = errors || in_part ? GcResult::kPartial : GcResult::kFreed;
  }
}

void RunCommand(const GcPolicy& policy, const GcRunOptions& o, GcRunResult* out) {
  VolumeData before, after;
  bool have_before = o.read_volume(o.root, &before).ok();
  LogInfo("gc runs a command", {{"policy", policy.name}, {"argv", policy.command}});
  CommandOutcome c = RunCommandAction(policy.command, policy.command_timeout, o.cancel);
  out->command_exit_code = c.exit_code;
  out->command_output = c.output;
  if (have_before && o.read_volume(o.root, &after).ok() && after.avail_bytes > before.avail_bytes) {
    out->freed_bytes = after.avail_bytes - before.avail_bytes;
  }
  LogInfo("gc command finished", {{"policy", policy.name},
                                  {"exit_code", c.exit_code},
                                  {"timed_out", c.timed_out},
                                  {"freed_bytes", out->freed_bytes},
                                  {"error", c.error}});
  if (c.cancelled) {
    out->result = GcResult::kCancelled;
  } else if (!c.started || c.exit_code != 0) {
    out->result = GcResult::kFailed;
    out->status =
        Status::Error(c.timed_out ? StatusCode::kTimeout : StatusCode::kCommand,
                      !c.error.empty() ? c.error : fmt::format("exit code {}", c.exit_code));
  } else {
    out->result = out->freed_bytes > 0 ? GcResult::kFreed : GcResult::kFreedNothing;
  }
}

// Lists BuildKit's records at the first address that answers and plans the prune from them into
// out->plan. Null when none answered: the plan is then held back, or the run failed, as the policy
// says (out->result set); the address that answered otherwise.
const BuildkitAddress* PlanPruneRun(const GcPolicy& policy, const GcRunOptions& o,
                                    const VolumeData* volume, GcRunResult* out,
                                    BuildkitPruneRequest* request) {
  std::string failures;
  Status last = Status::Error(StatusCode::kMissing, "probes.buildkit.address lists no address");
  for (const BuildkitAddress& a : o.buildkit.addresses) {
    BuildkitAnswer answer;
    last = QueryBuildkit(a, o.buildkit.call_timeout, o.cancel, &answer);
    if (last.ok()) {
      out->plan.buildkit_address = a.text;
      const bool reserved = ReservedSpaceSemantics(answer.version.version);
      PlanPrune(policy, answer.records, reserved, volume, o.clock->Now(), &out->plan);
      std::int64_t total = 0;
      for (const BuildkitRecord& r : answer.records) total += r.size;
      // The same cap the plan was made with, so that the run frees what the dry run showed.
      *request = PruneRequestOf(policy.prune,
                                WatermarkCap(policy.prune, total, out->plan.need_bytes), reserved);
      return &a;
    }
    if (Cancelled(o)) {
      out->result = GcResult::kCancelled;
      out->status = last;
      return nullptr;
    }
    failures += (failures.empty() ? "" : "; ") + a.text + ": " + last.ToString();
  }
  const std::string why = "BuildKit answers at no address (" + failures + ")";
  if (policy.prune.skip_unreachable) {
    // Said once a run, at info: a host without a BuildKit is normal for this policy.
    out->plan.triggered = false;
    out->plan.held_back = why;
    out->result = GcResult::kNotTriggered;
    LogInfo("gc prune policy does nothing: BuildKit is not reachable",
            {{"policy", policy.name}, {"triggers", out->plan.triggers}, {"addresses", failures}});
  } else {
    out->result = GcResult::kFailed;
    out->status = Status::Error(last.code(), why);
    LogWarn("gc policy cannot run", {{"policy", policy.name}, {"error", why}});
  }
  return nullptr;
}

void RunPrune(const GcPolicy& policy, const GcRunOptions& o, const BuildkitAddress& address,
              const BuildkitPruneRequest& request, GcRunResult* out) {
  LogInfo("gc prunes BuildKit", {{"policy", policy.name},
                                 {"address", address.text},
                                 {"keep_bytes", request.keep_bytes},
                                 {"max_used_space", request.max_used_space},
                                 {"planned_records", out->plan.planned_entries},
                                 {"planned_bytes", out->plan.planned_bytes}});
  std::vector<BuildkitRecord> freed;
  const Status s = PruneBuildkit(address, request, o.buildkit.call_timeout, policy.prune.timeout,
                                 o.cancel, &freed);
  for (const BuildkitRecord& r : freed) {
    GcEntryOutcome done;
    done.name = r.id;
    done.bytes = r.size > 0 ? static_cast<std::uint64_t>(r.size) : 0;
    done.freed = done.bytes;
    done.reap.result = ReapResult::kDeleted;
    out->freed_bytes += done.freed;
    out->deleted_entries++;
    LogInfo("gc pruned a BuildKit record",
            {{"policy", policy.name}, {"entry", r.id}, {"type", r.type}, {"bytes", done.bytes}});
    out->done.push_back(std::move(done));
  }
  LogInfo("gc prune finished", {{"policy", policy.name},
                                {"records", out->deleted_entries},
                                {"freed_bytes", out->freed_bytes},
                                {"error", s.ok() ? "" : s.ToString()}});
  if (s.code() == StatusCode::kCancelled) {
    out->result = GcResult::kCancelled;
  } else if (!s.ok()) {
    out->status = s;
    out->result = out->deleted_entries > 0 ? GcResult::kPartial : GcResult::kFailed;
  } else {
    out->result = out->freed_bytes > 0 || out->deleted_entries > 0 ? GcResult::kFreed
                                                                   : GcResult::kFreedNothing;
  }
}

}  // namespace

GcRunResult RunGcPolicy(const GcPolicy& policy, const VolumeData* volume, const GcRunOptions& o) {
  GcRunResult out;
  out.policy = policy.name;
  out.dry_run = o.dry_run || policy.dry_run;
  out.started = o.clock->Now();
  VolumeData own_volume;
  if (volume == nullptr && o.read_volume(o.root, &own_volume).ok()) volume = &own_volume;

  std::vector<GcEntry> entries;
  EntryFacts facts;
  UniqueFd dir;
  if (!policy.path.empty()) {
    Status s = OpenBeneath(o.root, policy.path, &dir);
    if (!s.ok() && s.error_number() != ENOENT) {
      out.status = s;
      out.result = GcResult::kFailed;
      LogWarn("gc policy cannot run", {{"policy", policy.name}, {"error", s.ToString()}});
      out.finished = o.clock->Now();
      return out;
    }
    if (s.ok()) out.status = MeasureAll(policy, o, dir.get(), &entries, &facts);
  }
  if (out.status.ok()) {
    out.plan = PlanGc(policy, entries, volume, o.clock->Now());
    if (dir.valid()) {
      out.status = MeasureChosenAgain(policy, o, dir.get(), facts, volume, &entries, &out.plan);
    }
  }
  if (!out.status.ok()) {
    out.result = Cancelled(o) ? GcResult::kCancelled : GcResult::kFailed;
    out.finished = o.clock->Now();
    return out;
  }
  // BuildKit is asked only once the triggers hold: an idle host costs it nothing.
  const BuildkitAddress* buildkit = nullptr;
  BuildkitPruneRequest prune_request;
  if (policy.action == GcAction::kPrune && out.plan.triggered) {
    buildkit = PlanPruneRun(policy, o, volume, &out, &prune_request);
    if (buildkit == nullptr) {
      out.finished = o.clock->Now();
      return out;
    }
  }
  if (out.plan.triggered) {
    for (const auto& item : out.plan.items) {
      if (item.decision == GcDecision::kSkip) out.skipped[item.skip]++;
    }
  }
  if (!out.plan.triggered) {
    out.result = GcResult::kNotTriggered;
  } else if (out.dry_run) {
    out.result = GcResult::kDryRun;
  } else {
    UniqueFd lock;
    if (Status s = LockGc(o.root, &lock); !s.ok()) {
      out.status = s;
      out.result = GcResult::kFailed;
      LogWarn("gc policy cannot run", {{"policy", policy.name}, {"error", s.ToString()}});
    } else if (policy.action == GcAction::kCommand) {
      RunCommand(policy, o, &out);
    } else if (policy.action == GcAction::kPrune) {
      RunPrune(policy, o, *buildkit, prune_request, &out);
    } else {
      RunDeletes(policy, o, dir.get(), &out);
    }
  }
  out.finished = o.clock->Now();
  return out;
}

nlohmann::json GcRunResult::ToJson() const {
  nlohmann::json done_json = nlohmann::json::array();
  for (const auto& d : done) {
    nlohmann::json errs = nlohmann::json::array();
    for (const auto& e : d.reap.first_errors) {
      errs.push_back({{"path", e.path}, {"op", e.what}, {"error", std::strerror(e.error)}});
    }
    done_json.push_back({{"entry", d.name},
                         {"bytes", d.bytes},
                         {"freed_bytes", d.freed},
                         {"result", ToString(d.reap.result)},
                         {"removed", d.reap.removed},
                         {"unmounted", d.reap.unmounted},
                         {"errors", d.reap.errors},
                         {"first_errors", errs}});
  }
  nlohmann::json skipped_json = nlohmann::json::object();
  for (const auto& [reason, n] : skipped) skipped_json[ToString(reason)] = n;
  nlohmann::json j = {{"policy", policy},
                      {"result", ToString(result)},
                      {"dry_run", dry_run},
                      {"plan", plan.ToJson()},
                      {"done", done_json},
                      {"freed_bytes", freed_bytes},
                      {"deleted_entries", deleted_entries},
                      {"skipped", skipped_json},
                      {"started", ToUnixSeconds(started)},
                      {"duration_seconds", ToSeconds(finished - started)}};
  if (!status.ok()) j["error"] = status.ToString();
  if (command_exit_code) {
    j["command_exit_code"] = *command_exit_code;
    j["command_output"] = command_output;
  }
  return j;
}

}  // namespace cachewarden
