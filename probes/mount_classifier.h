#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fs/mountinfo.h"

namespace cachewarden {

// What kind of storage holds the cache, from the shapes in DOMAIN.md.
enum class MountKind {
  kContainerRoot,      // overlay/aufs/fuse-overlayfs: a container's root
  kDockerVolume,       // root ends in /volumes/<name>/_data
  kK8sEmptyDir,        // root under /volumes/kubernetes.io~empty-dir/<name>
  kK8sEmptyDirMemory,  // emptyDir with medium: Memory (tmpfs in a pod)
  kDedicatedDevice,    // own block device, different major:minor from "/"
  kHostBind,           // a directory of the host disk, or the host's own root
  kTmpfs,
  kNetwork,  // nfs, nfs4, cifs, smb3, ceph, glusterfs, 9p, ...
  kFuse,
  kUnknown,
};

// "container_root", "docker_volume", ... (the label values of mount_info).
std::string_view MountKindName(MountKind kind);
// docker_volume, dedicated_device and host_bind: real disk that outlives the container.
bool IsVolumeKind(MountKind kind);

// statfs f_type magic numbers we cross-check against (linux/magic.h).
inline constexpr std::uint64_t kOverlayfsMagic = 0x794c7630;
inline constexpr std::uint64_t kTmpfsMagic = 0x01021994;

struct MountVerdict {
  MountKind kind = MountKind::kUnknown;
  bool readonly = false;
  // Why this kind, in a few words ("root ends in /volumes/x/_data").
  std::string reason;
  // False when statfs f_type contradicts the mountinfo fstype (e.g. the table says ext4 but the
  // kernel says overlay); the verdict then follows statfs.
  bool statfs_agrees = true;
};

// Classifies `holder`, the mount that holds the cache, within `table`, the mountinfo it came from
// (used to find the root's device and whether we are in a Kubernetes pod). `f_type` is statfs's
// answer for the cache path, if known. Pure.
MountVerdict ClassifyMount(const MountTable& table, const MountEntry& holder,
                           std::optional<std::uint64_t> f_type);

}  // namespace cachewarden
