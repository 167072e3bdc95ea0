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
Status ScanDindMounts(const std::string& proc_root, const std::vector<std::string>& dind_dirs,
                      bool other_namespaces, DindMountScan* out);

// The inode in a ns link target such as "mnt:[4026531840]"; 0 if malformed.
std::uint64_t ParseNamespaceLink(const std::string& target);

}  // namespace cachewarden
