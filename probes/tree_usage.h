#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "probes/clock.h"
#include "probes/status.h"

namespace cachewarden {

// Disk usage of one directory tree, the way du counts it: allocated blocks,
// hard links once (by inode, only when nlink > 1), symlinks not followed,
// other filesystems (mounts under the tree) not entered.
struct TreeUsage {
  std::uint64_t bytes = 0;
  std::uint64_t files = 0;  // inodes visited, the root included
  SystemTime newest_mtime{};
  bool complete = true;  // false if the budget ran out or a part was unreadable
};

// Walks `path` with openat/fstatat relative to directory fds (no path
// re-resolution, so a concurrent rename cannot send it elsewhere). Visits at
// most *budget inodes and decrements it. `cancel` (may be null) is polled.
// Fails only if `path` itself cannot be examined.
Status MeasureTree(const std::string& path, std::uint64_t* budget,
                   const std::atomic<bool>* cancel, TreeUsage* out);

}  // namespace cachewarden
