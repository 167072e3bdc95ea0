#include "probes/mount_classifier.h"

#include <fmt/format.h>

#include <array>

namespace cachewarden {
namespace {

constexpr std::array<std::string_view, 3> kOverlayTypes = {"overlay", "aufs",
                                                           "fuse.fuse-overlayfs"};
constexpr std::array<std::string_view, 12> kNetworkTypes = {
    "nfs",       "nfs4",           "cifs", "smb3",   "smbfs",      "ceph",
    "glusterfs", "fuse.glusterfs", "9p",   "lustre", "fuse.sshfs", "afs"};
// Filesystems that live on a block device (worth calling a dedicated device).
constexpr std::array<std::string_view, 9> kDiskTypes = {"ext2", "ext3", "ext4",     "xfs", "btrfs",
                                                        "zfs",  "f2fs", "bcachefs", "jfs"};

template <std::size_t N>
bool OneOf(std::string_view v, const std::array<std::string_view, N>& set) {
  for (auto s : set) {
    if (v == s) return true;
  }
  return false;
}

// Path components of `p`, without empty ones.
std::vector<std::string_view> Components(std::string_view p) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (end > start) out.push_back(p.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// "<...>/volumes/kubernetes.io~empty-dir/<name>[/...]" (kata's rule: the
// parent directory of the volume is exactly kubernetes.io~empty-dir).
bool IsEmptyDirRoot(std::string_view root) {
  auto c = Components(root);
  for (std::size_t i = 1; i + 1 < c.size(); ++i) {
    if (c[i] == "kubernetes.io~empty-dir" && c[i - 1] == "volumes") return true;
  }
  return false;
}

// "<...>/volumes/<name>/_data[/...]": Docker's named volumes, wherever
// /var/lib/docker lives on its device (Docker Desktop shows /docker/volumes).
bool IsDockerVolumeRoot(std::string_view root) {
  auto c = Components(root);
  for (std::size_t i = 0; i + 2 < c.size(); ++i) {
    if (c[i] == "volumes" && c[i + 2] == "_data") return true;
  }
  return false;
}

// A Kubernetes pod shows kubelet paths in the roots of its /etc/hosts and similar binds, or the
// service-account mount.
bool InKubernetesPod(const MountTable& table) {
  for (const auto& e : table.entries) {
    if (e.root.find("/kubelet/pods/") != std::string::npos) return true;
    if (e.mount_point.starts_with("/var/run/secrets/kubernetes.io") ||
        e.mount_point.starts_with("/run/secrets/kubernetes.io")) {
      return true;
    }
  }
  return false;
}

MountVerdict Verdict(MountKind kind, std::string reason) {
  MountVerdict v;
  v.kind = kind;
  v.reason = std::move(reason);
  return v;
}

MountVerdict FromTable(const MountTable& table, const MountEntry& m) {
  const std::string& t = m.fstype;
  if (OneOf(t, kOverlayTypes)) {
    return Verdict(MountKind::kContainerRoot,
                   m.mount_point == "/"
                       ? fmt::format("{} filesystem at / (a container's root)", t)
                       : fmt::format("{} filesystem at {} (an overlay, like a container's root)", t,
                                     m.mount_point));
  }
  if (t == "tmpfs" || t == "ramfs") {
    if (IsEmptyDirRoot(m.root) || InKubernetesPod(table)) {
      return Verdict(MountKind::kK8sEmptyDirMemory,
                     "tmpfs in a Kubernetes pod (emptyDir with medium: Memory)");
    }
    return Verdict(MountKind::kTmpfs, fmt::format("{} at {}", t, m.mount_point));
  }
  if (OneOf(t, kNetworkTypes)) {
    return Verdict(MountKind::kNetwork, fmt::format("network filesystem {} from {}", t, m.source));
  }
  if (IsEmptyDirRoot(m.root)) {
    return Verdict(MountKind::kK8sEmptyDir,
                   fmt::format("root {} is a Kubernetes emptyDir on the node's disk", m.root));
  }
  if (IsDockerVolumeRoot(m.root)) {
    return Verdict(MountKind::kDockerVolume,
                   fmt::format("root {} is a Docker named volume", m.root));
  }
  if (t == "fuse" || t == "fuseblk" || t.starts_with("fuse.")) {
    return Verdict(MountKind::kFuse, fmt::format("FUSE filesystem {}", t));
  }
  const MountEntry* root = table.RootMount();
  bool disk = OneOf(t, kDiskTypes) || m.source.starts_with("/dev/");
  if (disk && m.mount_point == "/") {
    return Verdict(MountKind::kHostBind,
                   fmt::format("the host's root filesystem ({} on {})", t, m.source));
  }
  bool same_device = root != nullptr && root->major == m.major && root->minor == m.minor;
  if (disk && m.root == "/" && !same_device) {
    return Verdict(MountKind::kDedicatedDevice,
                   fmt::format("its own device {} ({}, {}), not the root's {}", m.source, t,
                               m.Device(), root ? root->Device() : "unknown"));
  }
  if (disk) {
    return Verdict(MountKind::kHostBind,
                   fmt::format("directory {} of {} bound at {}", m.root, m.source, m.mount_point));
  }
  return Verdict(MountKind::kUnknown, fmt::format("{} from {} at {}", t, m.source, m.mount_point));
}

}  // namespace

bool IsVolumeKind(MountKind kind) {
  return kind == MountKind::kDockerVolume || kind == MountKind::kDedicatedDevice ||
         kind == MountKind::kHostBind;
}

MountVerdict ClassifyMount(const MountTable& table, const MountEntry& holder,
                           std::optional<std::uint64_t> f_type) {
  MountVerdict v = FromTable(table, holder);
  v.readonly = holder.ReadOnly();
  if (!f_type) return v;
  // The kernel's word wins over a table that may be stale or from another namespace: an overlay or
  // tmpfs by magic is one, whatever the table says.
  if (*f_type == kOverlayfsMagic && v.kind != MountKind::kContainerRoot) {
    v.statfs_agrees = false;
    v.kind = MountKind::kContainerRoot;
    v.reason = fmt::format("statfs says overlayfs although mountinfo says {}", holder.fstype);
  } else if (*f_type == kTmpfsMagic && v.kind != MountKind::kTmpfs &&
             v.kind != MountKind::kK8sEmptyDirMemory) {
    v.statfs_agrees = false;
    v.kind = MountKind::kTmpfs;
    v.reason = fmt::format("statfs says tmpfs although mountinfo says {}", holder.fstype);
  } else if (*f_type != kOverlayfsMagic && v.kind == MountKind::kContainerRoot &&
             holder.fstype == "overlay") {
    v.statfs_agrees = false;
    v.reason += fmt::format(" (but statfs f_type is {:#x})", *f_type);
  }
  return v;
}

}  // namespace cachewarden
