#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace cachewarden {

// A mount under a dind directory: what makes `rm` of that entry fail with "Device or resource
// busy".
struct DindMount {
  bool own_namespace = false;  // scope "own", else "other"
  std::uint64_t mount_ns = 0;  // inode of the mount namespace (ns/mnt)
  int pid = 0;                 // a process in that namespace
  std::string command;         // its /proc/<pid>/comm
  int mount_id = 0;
  std::string mount_point;  // as that namespace sees it
  std::string fstype;
  std::string source;
  std::string dind_dir;  // the dind directory it is under
  std::string entry_id;  // the first component below dind_dir
  // The mount shows (part of) the entry elsewhere: a bind mount whose mountinfo *root* field is the
  // entry or lies inside it, on the entry's device (`WITH DOCKER` binds dind/<id> at
  // /var/lib/docker). Nothing is mounted on the entry then, but the entry is in use there. False
  // for a mount on a directory inside the entry.
  bool shows_entry = false;
};

struct DindMountScan {
  std::vector<DindMount> mounts;
  std::size_t namespaces = 0;            // distinct mount namespaces looked at
  bool other_processes_visible = false;  // any pid outside our namespace
  int unreadable = 0;                    // namespaces whose mountinfo we could not read
};

// Looks for mounts strictly under any of `dind_dirs` in our own mount namespace
// (<proc>/self/mountinfo) and, when `other_namespaces`, in every other mount namespace visible
// under <proc>/<pid>/ (deduplicated by the ns/mnt inode; the lowest pid names it). Fails only if
// our own mountinfo cannot be read.
//
// A namespace may see a dind directory under another path (a bind mount of an entry, or of the
// cache, elsewhere), so mounts are matched by identity, not only by their mount point's path: each
// dind directory is located in its filesystem (device and path from that filesystem's root, from
// our own mountinfo: the mount holding it, by statx mount id, else by path). A mount is then under
// an entry when its mount point is under the directory's path, or when it sits on a directory of
// that filesystem inside the entry (its parent mount's root and device place it there), or its
// parent mount is under the entry; and it shows the entry (DindMount::shows_entry) when its root
// field on that device is the entry or inside it.
Status ScanDindMounts(const std::string& proc_root, const std::vector<std::string>& dind_dirs,
                      bool other_namespaces, DindMountScan* out);

// The inode in a ns link target such as "mnt:[4026531840]"; 0 if malformed.
std::uint64_t ParseNamespaceLink(const std::string& target);

}  // namespace cachewarden
