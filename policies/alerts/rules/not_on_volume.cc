#include "policies/alerts/rules/not_on_volume.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"
#include "probes/mounts.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

std::string UseVolume(const std::string& root) {
  return fmt::format(
      "Mount a volume at {0}: `docker run -v earthly-cache:{0} ...` (a Docker named volume), or in "
      "Kubernetes a PersistentVolumeClaim (e.g. EBS-backed) mounted at {0}.",
      root);
}

// The critical alert: read-only, or on a container's root. Not labelled (the Prometheus rule's
// read-only series has no kind either).
Candidate Critical(const NotOnVolumeInput& in, MountKind kind) {
  const bool root = MountKindSeverity(kind) == Severity::kCritical;
  Candidate c =
      MakeCandidate(Severity::kCritical, in.readonly || root, false, in.readonly || root ? 1 : 0);
  if (in.readonly) {
    c.summary = in.fstype.empty()
                    ? fmt::format("The cache filesystem at {} is read-only", in.path)
                    : fmt::format("The cache filesystem at {} is read-only ({} at {})", in.path,
                                  in.fstype, in.mount_point);
    c.description = fmt::format(
        "BuildKit cannot write its cache on {} and every build fails. The kernel remounts a "
        "filesystem read-only after I/O errors: check dmesg and the disk, then remount it "
        "read-write or mount a writable volume at {}.",
        in.path, in.path);
  } else {
    c.summary = fmt::format("{} is not a volume: it is on the container's overlay root ({})",
                            in.path, in.reason.empty() ? "overlay" : in.reason);
    c.description =
        "On overlay BuildKit cannot use its overlayfs snapshotter and falls back to the native "
        "one, which copies every layer (slow, fills the node's disk), and WITH DOCKER cleanup "
        "fails with \"Resource busy\". " +
        UseVolume(in.path);
  }
  return c;
}

// The warning, labelled with the kind: storage that works, but badly.
Candidate Warning(const NotOnVolumeInput& in, MountKind kind) {
  const bool weak = MountKindSeverity(kind) == Severity::kWarning;
  Candidate c = MakeCandidate(Severity::kWarning, weak, false, weak ? 1 : 0);
  c.labels = {{"kind", std::string(MountKindName(kind))}};
  switch (kind) {
    case MountKind::kK8sEmptyDir:
      c.summary = fmt::format(
          "{} is a Kubernetes emptyDir: it shares the node's disk and is wiped with the pod",
          in.path);
      c.description = fmt::format(
          "Earthly users on EKS saw WITH DOCKER fail on an emptyDir and fixed it by moving to an "
          "EBS-backed PersistentVolume (earthly#1647): mount a PersistentVolumeClaim at {} "
          "instead.",
          in.path);
      break;
    case MountKind::kK8sEmptyDirMemory:
    case MountKind::kTmpfs:
      c.summary = fmt::format(
          "{} is memory-backed ({}): the cache counts against memory, is capped by the tmpfs size "
          "and is lost on restart",
          in.path, in.reason);
      c.description = "Use disk: " + UseVolume(in.path);
      break;
    case MountKind::kNetwork:
    case MountKind::kFuse:
      c.summary = fmt::format(
          "{} is on a {} filesystem ({}): slow for BuildKit, statfs may hang, and overlayfs cannot "
          "use it as upperdir",
          in.path, kind == MountKind::kNetwork ? "network" : "FUSE", in.reason);
      c.description = "Put the cache on local disk: " + UseVolume(in.path);
      break;
    default:
      c.summary = fmt::format("The cache {} is on {} storage", in.path, MountKindName(kind));
      break;
  }
  return c;
}

std::string OkSummary(const NotOnVolumeInput& in, MountKind kind) {
  if (!in.kind) return "";
  if (kind == MountKind::kHostBind) {
    return fmt::format(
        "{} is on the host's disk: {}. It works, but shares that disk with everything else",
        in.path, in.reason);
  }
  return fmt::format("{} is on {} at {} ({}): {}", in.path, in.fstype, in.mount_point,
                     MountKindName(kind), in.reason);
}

}  // namespace

constinit const RuleDef kCacheNotOnVolume = {
    .name = "CacheNotOnVolume",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = {},
    .severities = kWarningAndCritical,
    .eval = &EvalOf<&ExtractNotOnVolume, &DecideNotOnVolume>,
};

Severity MountKindSeverity(MountKind kind) {
  switch (kind) {
    case MountKind::kContainerRoot:
      return Severity::kCritical;
    case MountKind::kK8sEmptyDir:
    case MountKind::kK8sEmptyDirMemory:
    case MountKind::kTmpfs:
    case MountKind::kNetwork:
    case MountKind::kFuse:
      return Severity::kWarning;
    case MountKind::kDockerVolume:
    case MountKind::kDedicatedDevice:
    case MountKind::kHostBind:
    case MountKind::kUnknown:
      return Severity::kOk;
  }
  return Severity::kOk;
}

std::optional<NotOnVolumeInput> ExtractNotOnVolume(const Snapshot& s, SystemTime) {
  auto v = s.Get<VolumeData>();
  auto m = s.Get<MountsData>();
  if (v == nullptr && m == nullptr) return std::nullopt;
  NotOnVolumeInput in;
  in.path = v ? v->path : m->cache_root;
  in.readonly = v && v->readonly;
  if (m) {
    in.kind = m->verdict.kind;
    in.readonly = in.readonly || m->verdict.readonly;
    in.fstype = m->holder.fstype;
    in.mount_point = m->holder.mount_point;
    in.reason = m->verdict.reason;
  }
  return in;
}

void DecideNotOnVolume(const NotOnVolumeInput& in, const RuleConfig&, RuleOutcome* out) {
  const MountKind kind = in.kind.value_or(MountKind::kUnknown);
  out->candidates.push_back(Critical(in, kind));
  out->candidates.push_back(Warning(in, kind));
  out->ok_summary = OkSummary(in, kind);
}

}  // namespace cachewarden
