#include "policies/alerts/mount_assessment.h"

#include <fmt/format.h>

#include <set>

#include "base/units.h"
#include "probes/dind.h"
#include "probes/logs.h"
#include "probes/mounts.h"

namespace cachewarden {
namespace {

constexpr std::string_view kUseVolume =
    "Mount a volume at {0}: `docker run -v earthly-cache:{0} ...` (a Docker named volume), or in "
    "Kubernetes a PersistentVolumeClaim (e.g. EBS-backed) mounted at {0}.";

void MountVerdictFinding(const Snapshot& snapshot, std::vector<Finding>* out) {
  auto m = snapshot.Get<MountsData>();
  if (m == nullptr) return;
  const auto& v = m->verdict;
  const std::string& root = m->cache_root;
  std::string what = fmt::format("{} is on {} at {} ({}): {}", root, m->holder.fstype,
                                 m->holder.mount_point, MountKindName(v.kind), v.reason);
  if (v.readonly) {
    out->push_back({Severity::kCritical, "mounts",
                    fmt::format("{} is on a read-only mount ({} at {}).", root, m->holder.fstype,
                                m->holder.mount_point),
                    fmt::format("BuildKit must write its cache there: remount it read-write or "
                                "mount a writable volume at {}.",
                                root)});
  }
  Finding f{Severity::kOk, "mounts", what, ""};
  switch (v.kind) {
    case MountKind::kContainerRoot:
      f.severity = Severity::kCritical;
      f.summary = fmt::format("{} is not a volume: it is on the container's overlay root ({}).",
                              root, v.reason);
      f.remedy =
          "On overlay BuildKit cannot use its overlayfs snapshotter and falls back to the native "
          "one, which copies every layer (slow, fills the disk), and WITH "
          "DOCKER cleanup fails with \"Resource busy\". " +
          fmt::format(fmt::runtime(kUseVolume), root);
      break;
    case MountKind::kK8sEmptyDir:
      f.severity = Severity::kWarning;
      f.summary = fmt::format(
          "{} is a Kubernetes emptyDir: it shares the node's disk and is wiped with the pod.",
          root);
      f.remedy =
          "Earthly users on EKS saw WITH DOCKER fail on an emptyDir and fixed it by moving to an "
          "EBS-backed PersistentVolume (earthly#1647): mount a PersistentVolumeClaim at " +
          root + " instead.";
      break;
    case MountKind::kK8sEmptyDirMemory:
    case MountKind::kTmpfs:
      f.severity = Severity::kWarning;
      f.summary = fmt::format(
          "{} is memory-backed ({}): the cache counts against memory, is capped by the tmpfs size "
          "and is lost on restart.",
          root, v.reason);
      f.remedy = "Use disk: " + fmt::format(fmt::runtime(kUseVolume), root);
      break;
    case MountKind::kNetwork:
    case MountKind::kFuse:
      f.severity = Severity::kWarning;
      f.summary = fmt::format(
          "{} is on a {} filesystem ({}): slow for BuildKit, statfs may hang, and overlayfs cannot "
          "use it as upperdir.",
          root, v.kind == MountKind::kNetwork ? "network" : "FUSE", v.reason);
      f.remedy = "Put the cache on local disk: " + fmt::format(fmt::runtime(kUseVolume), root);
      break;
    case MountKind::kHostBind:
      f.summary = fmt::format(
          "{} is on the host's disk: {}. It works, but shares that disk with everything else.",
          root, v.reason);
      break;
    default:
      break;
  }
  out->push_back(std::move(f));
}

// Entries that buildkitd's log says `rm` could not remove.
std::set<std::string> BusyEntries(const Snapshot& snapshot) {
  std::set<std::string> out;
  auto l = snapshot.Get<LogsData>();
  if (l == nullptr) return out;
  for (const auto& e : l->recent) {
    if (e.kind == LogEventKind::kDindBusy) out.insert(e.entry_id);
  }
  return out;
}

void DindFindings(const Snapshot& snapshot, std::vector<Finding>* out) {
  auto d = snapshot.Get<DindData>();
  if (d == nullptr) return;
  // A mount is stale when the dind probe says so (old, or its entry is a leftover or gone) or when
  // the log shows `rm` failing on its entry.
  auto busy = BusyEntries(snapshot);
  std::size_t stale = 0;
  const DindMountSeen* example = nullptr;
  for (const auto& m : d->mounts) {
    if (!m.stale && busy.count(m.mount.entry_id) == 0) continue;
    ++stale;
    if (example == nullptr) example = &m;
  }
  if (example != nullptr) {
    const auto& m = example->mount;
    out->push_back(
        {Severity::kWarning, "dind",
         fmt::format("{} stale mount(s) under dind/, e.g. {} ({}) on entry {}, held in the {} "
                     "mount namespace {} by pid {} ({}).",
                     stale, m.mount_point, m.fstype, m.entry_id,
                     m.own_namespace ? "agent's own" : "other", m.mount_ns, m.pid, m.command),
         fmt::format("These make `rm` of dind entries fail with \"Device or resource busy\". When "
                     "no build runs, unmount them (`nsenter -t {} -m umount -l {}`) and "
                     "remove the entry, or restart buildkitd, which wipes dind/ at start.",
                     m.pid, m.mount_point)});
  }
  if (d->leftover_entries > 0) {
    out->push_back({Severity::kWarning, "dind",
                    fmt::format("{} leftover dind entr{} (not cache_*, untouched for {}) hold {}.",
                                d->leftover_entries, d->leftover_entries == 1 ? "y" : "ies",
                                FormatDuration(d->leftover_age),
                                HumanBytes(static_cast<double>(d->leftover_bytes))),
                    "`earthly prune` does not remove them: delete them when no build runs, or "
                    "restart buildkitd, whose entrypoint wipes non-cache_ entries."});
  }
}

void LogFindings(const Snapshot& snapshot, std::vector<Finding>* out) {
  auto l = snapshot.Get<LogsData>();
  if (l == nullptr) return;
  if (auto n = l->Count(LogEventKind::kDindBusy); n > 0) {
    const LogEvent* e = l->LastEvent(LogEventKind::kDindBusy);
    out->push_back(
        {Severity::kWarning, "logs",
         fmt::format(
             "buildkitd's log shows {} \"Resource busy\" failure(s) removing dind entries{}.", n,
             e ? fmt::format(" (latest: entry {}, {})", e->entry_id, e->path) : ""),
         "A mount under that entry is still alive: see the dind probe's mounts for the pid and "
         "namespace that hold it, unmount it, then remove the entry."});
  }
  if (l->snapshotter_fallback) {
    out->push_back({Severity::kWarning, "logs",
                    "buildkitd logged that the overlayfs snapshotter is not available: it copies "
                    "every layer (native snapshotter).",
                    "The cache is on a filesystem overlayfs cannot use as upperdir (an overlay "
                    "root, NFS, FUSE): put it on a Docker volume or a PersistentVolume."});
  }
  if (auto n = l->Count(LogEventKind::kDiskFull); n > 0) {
    out->push_back(
        {Severity::kWarning, "logs",
         fmt::format("buildkitd's log shows {} \"no space left on device\" error(s).", n),
         "Free space: buildctl prune --keep-storage, remove dind leftovers, or grow the volume."});
  }
}

}  // namespace

void AssessMountsDindLogs(const Snapshot& snapshot, std::vector<Finding>* out) {
  MountVerdictFinding(snapshot, out);
  DindFindings(snapshot, out);
  LogFindings(snapshot, out);
}

}  // namespace cachewarden
