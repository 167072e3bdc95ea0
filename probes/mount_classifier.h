#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/enum_names.h"
#include "fs/mountinfo.h"

namespace cachewarden {

// What kind of storage holds the cache, as ClassifyMount recognises it from the mount that holds
// the cache (tests/fixtures/mountinfo has a captured mountinfo of each shape). A closed set: the
// alert rules decide on the value, never on its name.
enum class MountKind {
  kContainerRoot,      // overlay, aufs or fuse-overlayfs: a container's root
  kDockerVolume,       // root ends in /volumes/<name>/_data
  kK8sEmptyDir,        // root under /volumes/kubernetes.io~empty-dir/<name>
  kK8sEmptyDirMemory,  // emptyDir with medium: Memory (tmpfs in a pod)
  kDedicatedDevice,    // own block device, different major:minor from "/"
  kHostBind,           // a directory of the host disk, or the host's own root
  kTmpfs,              // tmpfs or ramfs outside a Kubernetes pod
  kNetwork,            // nfs, nfs4, cifs, smb3, ceph, glusterfs, 9p, sshfs, ...
  kFuse,               // any other FUSE filesystem (s3fs, rclone, gcsfuse, ...)
  kUnknown,            // none of the above
};

// The one spelling of each kind: the `kind` label of cachewarden_mount_info, the mounts probe's
// JSON, and what a reader of either parses back (ValueIn).
inline constexpr EnumName<MountKind> kMountKindNames[] = {
    {MountKind::kContainerRoot, "container_root"},
    {MountKind::kDockerVolume, "docker_volume"},
    {MountKind::kK8sEmptyDir, "k8s_emptydir"},
    {MountKind::kK8sEmptyDirMemory, "k8s_emptydir_memory"},
    {MountKind::kDedicatedDevice, "dedicated_device"},
    {MountKind::kHostBind, "host_bind"},
    {MountKind::kTmpfs, "tmpfs"},
    {MountKind::kNetwork, "network"},
    {MountKind::kFuse, "fuse"},
    {MountKind::kUnknown, "unknown"},
};

constexpr std::string_view MountKindName(MountKind kind) {
  return NameIn<MountKind>(kMountKindNames, kind);
}
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
