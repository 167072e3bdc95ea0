#pragma once

#include <set>
#include <string>

#include "policies/gc_config.h"
#include "policies/gc_select.h"

namespace cachewarden {

// Measures the entry `name` of the directory `parent_fd` into *out: its
// (dev, ino), allocated bytes (hard links counted once), inode count, the
// newest `age_by` time in its subtree, and whether a mount point is at or
// under it (a directory or file on another device or mount id; never
// entered). Never follows symlinks: an explicit stack of directory fds opened
// with O_NOFOLLOW|O_DIRECTORY relative to their parent. A measuring failure
// is stored in out->error ("" on success). Polls `cancel`.
//
// (Our own small walker: the scan probe's walker had not landed when the GC
// work needed one. Sequential; GC measures only its candidate entries.)
void MeasureEntry(int parent_fd, const std::string& name, GcAgeBy age_by,
                  const std::atomic<bool>* cancel, GcEntry* out);

// Names of the entries of the directory `policy_dir` (an absolute path) that
// some process visible in `proc_root` holds open (an fd or its cwd below the
// entry). Unreadable processes are passed over.
std::set<std::string> EntriesHeldOpen(const std::string& proc_root,
                                      const std::string& policy_dir);

}  // namespace cachewarden
