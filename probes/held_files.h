#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cachewarden {

// A deleted file some process still holds open on the cache's filesystem: its blocks stay
// allocated (df counts them) while no directory shows it (du and the scan do not).
struct HeldFile {
  pid_t pid = 0;
  std::string comm;         // /proc/<pid>/comm
  std::string path;         // as the holder's mount namespace named it, " (deleted)" cut off
  std::uint64_t bytes = 0;  // allocated: st_blocks * 512
};

struct DeletedOpenFiles {
  std::uint64_t bytes = 0;  // each file (dev, ino) once, however many fds and processes hold it
  std::uint64_t files = 0;
  // The largest files, largest first, at most kMaxHolders; a file held by several processes is
  // named with the first one found.
  std::vector<HeldFile> largest;
  static constexpr std::size_t kMaxHolders = 10;
  std::uint64_t processes = 0;             // processes whose fds were read
  std::uint64_t processes_unreadable = 0;  // /proc/<pid>/fd not readable (another user, no ptrace)
  bool truncated = false;                  // stopped at max_fds: the figures are a lower bound
};

// Looks through every process's fds under `proc_root` (/proc) for files with no name left (link
// count 0) on the device `dev` (stat's st_dev of the cache directory), stat'ing each through its
// /proc/<pid>/fd link. Reads at most `max_fds` fd links in all, never follows a link other than
// the fd's own, holds at most two directory fds at a time, and never fails: what it cannot read
// it counts (processes_unreadable) or skips (a process that exits meanwhile).
DeletedOpenFiles FindDeletedOpenFiles(const std::string& proc_root, std::uint64_t dev,
                                      std::size_t max_fds);

}  // namespace cachewarden
