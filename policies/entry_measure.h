#pragma once

#include <set>
#include <string>

#include "policies/gc_config.h"
#include "policies/gc_select.h"

namespace cachewarden {

// Measures the entry `name` of the directory `parent_fd` into *out with the
// scan probe's walker (probes/walker.h: dirfd only, never follows symlinks,
// never enters another mount, hard links once): its (dev, ino), allocated
// bytes, inode count, the newest `age_by` time in its subtree, and whether a
// mount point lies at or under it. A failure is stored in out->error ("" on
// success). Polls `cancel`.
void MeasureGcEntry(int parent_fd, const std::string& name, GcAgeBy age_by, int threads,
                    const std::atomic<bool>* cancel, GcEntry* out);

// Names of the entries of the directory `policy_dir` (an absolute path) that
// some process visible in `proc_root` holds open (an fd or its cwd below the
// entry). Unreadable processes are passed over.
std::set<std::string> EntriesHeldOpen(const std::string& proc_root,
                                      const std::string& policy_dir);

}  // namespace cachewarden
