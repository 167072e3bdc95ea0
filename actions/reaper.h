#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"

namespace cachewarden {

// How to delete one entry.
struct ReapOptions {
  // Threads working on the entry's directories (the caller's included). A plain count, not
  // WorkerOptions: deletion runs at normal priority, paced by max_delete_rate instead.
  int threads = 2;
  double max_delete_rate = 0;  // unlinks + rmdirs per second, over all threads; 0: no limit
  // Detach (umount2 MNT_DETACH) mounts found under the entry, then delete what is beneath. Off: a
  // mount stops that branch (reported as "mount").
  bool unmount_stale = false;
  // Polled before every unlink and rmdir, by every deletion thread; may be null. Not owned: it must
  // stay valid until ReapEntry returns (the deletion threads are joined before it does).
  const std::atomic<bool>* cancel = nullptr;
  // Directory fds one reap keeps open at most (beyond those its threads are using); 0:
  // DirFdBudget::SizeFor(threads), from the soft RLIMIT_NOFILE when the reap starts.
  std::size_t max_held_fds = 0;
  // Tests only: called before each re-open of a released directory (DirFdBudget).
  std::function<void()> before_reopen;
  // Tests only: behave as Linux < 5.8, whose statx reports neither a mount id (STATX_MNT_ID in
  // stx_mask) nor STATX_ATTR_MOUNT_ROOT, so the mount check must fall back to mountinfo.
  bool emulate_no_mount_id = false;
};

struct ReapError {
  std::string path;  // relative to the entry's parent, for people only
  int error = 0;     // errno
  std::string what;  // "unlink", "rmdir", "open", "mount", "read"
};

enum class ReapResult {
  kDeleted,    // the entry is gone
  kChanged,    // the entry is not the (dev, ino) that was planned: untouched
  kMount,      // a mount inside stopped part of it (unmount_stale off)
  kError,      // some parts could not be deleted (see errors)
  kCancelled,  // cancelled part way
  kVanished,   // gone before we started
};
// The spelling of a ReapResult in the deletion log lines, `gc`'s report and JSON's "result".
inline constexpr EnumName<ReapResult> kReapResultNames[] = {
    {ReapResult::kDeleted, "deleted"},     {ReapResult::kChanged, "changed"},
    {ReapResult::kMount, "mount"},         {ReapResult::kError, "error"},
    {ReapResult::kCancelled, "cancelled"}, {ReapResult::kVanished, "vanished"},
};
constexpr std::string_view ToString(ReapResult r) {
  return NameIn<ReapResult>(kReapResultNames, r);
}

struct ReapOutcome {
  ReapResult result = ReapResult::kDeleted;
  std::uint64_t removed = 0;    // files, links and directories removed
  std::uint64_t errors = 0;     // failed operations (each also in `first_errors` up to 16)
  std::uint64_t unmounted = 0;  // mounts detached
  std::vector<ReapError> first_errors;
};

// Deletes the entry `name` of the directory `parent_fd`, if it still is the file (`dev`, `ino`)
// that was planned.
//
// Safety: only directory fds and names are used, never a path string. Every directory is opened
// with openat(O_NOFOLLOW|O_DIRECTORY) relative to its parent's fd and emptied through that fd, so a
// directory swapped for a symlink at any moment is unlinked as a link and its target never touched
// (CVE-2018-6954). A directory on another mount is never entered: another device, a statx mount id
// other than the entry's, STATX_ATTR_MOUNT_ROOT, or, where the kernel reports neither (Linux
// < 5.8), the (dev, ino) of a mount root of our namespace's mountinfo, read when the reap starts
// (so a mount made after planning counts); with neither and no readable mountinfo, nothing is
// deleted (kMount, "mount check"). An entry that is itself a mount point is never emptied (kMount):
// the caller detaches it and measures what is beneath before it asks again (GC: actions/gc_run).
// Hard links are unlinked (the name goes; other names of the inode and their content stay).
// `parent_fd` itself is never removed.
//
// Fds: the directories still being emptied keep at most a budget of fds open (ReapOptions::
// max_held_fds, fs/dirfd.h's DirFdBudget); one released is re-opened through ".." of its last child
// on the way back up, or by name from the nearest open ancestor, and checked against the (dev, ino)
// it had: a tree 3,000 deep is deleted at a soft RLIMIT_NOFILE of 64. A directory found moved on
// the way back (not the one left) stops the whole reap (kError, an error "moved" with ESTALE):
// nothing more is unlinked or removed, in particular not the moved directory from wherever it went.
//
// Per-operation errors are counted and never stop the rest. Blocks the calling thread (which also
// works) and uses threads-1 more. Thread-safe: independent calls may run concurrently.
ReapOutcome ReapEntry(int parent_fd, const std::string& name, std::uint64_t dev, std::uint64_t ino,
                      const ReapOptions& options);

}  // namespace cachewarden
