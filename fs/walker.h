#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "fs/worker_options.h"

namespace cachewarden {

// The filesystem walker: one piece of code for measuring, used by the scan probe (what fills the
// cache), the dind probe (its entries, when the scan's figures are stale) and GC's measuring of
// candidates (probes/gc_entries: how big and how old is this entry, before planning and again after
// a partial deletion). It never deletes: the GC reaper (actions/reaper) has its own walk, which
// empties directories as it goes.
//
// How it walks (the rules of `du -x`, plus safety):
// - directory file descriptors only: every entry is reached with
//   openat(parent_fd, name, O_NOFOLLOW|O_DIRECTORY) / statx(parent_fd, name,
//   AT_SYMLINK_NOFOLLOW|AT_NO_AUTOMOUNT), never through a path string, so a
//   symlink swapped into the tree mid-walk is never followed;
// - symlinks count as themselves (their own st_blocks and st_size);
// - an explicit work list (no recursion), and bounded fds: the directories
//   whose subdirectories are still queued hold at most a budget of fds
//   (DirFdBudget, sized from RLIMIT_NOFILE and the threads, or
//   WalkOptions::max_held_fds); the least recently used are released and
//   re-opened when needed, through ".." of a child on the way back up (linear
//   in depth) or by name from the nearest open ancestor, each checked against
//   the (dev, ino) seen on the way down. So a tree 3,000 deep walks whole at a
//   soft limit of 256 fds. A directory found moved on the way back stops the
//   walk, counted as an `error` skip with first_error ESTALE (incomplete);
// - parallel over subtrees with at most WalkOptions::workers.threads threads;
// - never crosses into another filesystem: an entry whose st_dev differs from
//   the walk's root, or that statx marks as a mount root (a bind mount of the
//   same filesystem), is a mount point: reported, neither entered nor counted
//   (as `du -x` does for other devices);
// - a non-directory with nlink > 1 is counted once per (dev, ino) for the
//   lifetime of the Walker (across Measure calls, as `du` does across its
//   arguments), as long as the set of those pairs holds fewer than
//   WalkOptions::max_hard_links (about 64 bytes each: the one part of the
//   walker's memory that grows with the tree). Past that, a new multiply-linked
//   file is counted by share: each link met adds 1/nlink of its bytes and
//   inode, which is exact when all its links are in the walk and counts the
//   share inside when some are not (EntryTotals::links_by_share says how many;
//   the totals are then approximate);
// - entries that vanish, change type or deny access mid-walk are skipped and
//   counted in SkipCounts, never fatal. Only failing to look at the entry
//   asked for (the argument of Measure) is an error. Skips other than
//   `vanished` mean the totals describe only part of the entry: a caller that
//   decides from them (GC) must treat them as unknown.
// - memory is bounded: totals are aggregated on the fly; only the top-N
//   largest files and the first few mount points are kept, never the tree.
//
// Units: allocated bytes are st_blocks * 512 (what `du -B1` reports); apparent bytes are st_size
// summed over every counted entry, directories included (what `du -b` reports).

// Why entries were skipped.
struct SkipCounts {
  std::uint64_t vanished = 0;    // ENOENT/ENOTDIR, or replaced by another inode
  std::uint64_t permission = 0;  // EACCES/EPERM
  std::uint64_t error = 0;       // any other errno (EIO, EMFILE, ...)
  int first_error = 0;           // the errno of one permission or error skip (0 if none)
  std::uint64_t Total() const { return vanished + permission + error; }
  void Add(const SkipCounts& o);
};

// What one entry (a file, or a directory and everything under it on the same filesystem) adds up
// to. A plain value.
struct EntryTotals {
  std::uint64_t allocated_bytes = 0;  // st_blocks * 512
  std::uint64_t apparent_bytes = 0;   // st_size
  std::uint64_t inodes = 0;           // entries counted (hard links once)
  // Extremes over every counted entry, the measured entry itself included. The epoch (SystemTime{})
  // when nothing was counted.
  SystemTime newest_mtime{};
  SystemTime oldest_mtime{};
  SystemTime newest_ctime{};
  SystemTime newest_atime{};
  // Mount points found at or below the entry (not entered, not counted). GC skips an entry with a
  // mount inside unless its policy detaches stale mounts: deleting it would fail with "Device or
  // resource busy".
  std::uint64_t mount_points = 0;
  // Of allocated_bytes: multiply-linked files with links the walk did not meet (outside the entry),
  // which deleting the entry would not free. Set by MeasureEntry only (0 from Walker::Measure).
  std::uint64_t shared_bytes = 0;
  // Links of multiply-linked files counted by share (1/nlink each) because the hard-link set was
  // full (WalkOptions::max_hard_links): when not 0, the totals are approximate, and shared_bytes
  // leaves those files out.
  std::uint64_t links_by_share = 0;
  SkipCounts skipped;

  bool has_mount_inside() const { return mount_points > 0; }
  // Adds `o` (sums, min/max of times).
  void Add(const EntryTotals& o);
};

struct WalkOptions {
  // Worker threads for one Measure call (threads >= 1), lowered with low_priority (the walker's own
  // threads only, never the caller's). The calling thread only waits, unless no thread can be
  // started: then it walks by itself.
  WorkerOptions workers;
  // How many of the largest regular files (by allocated bytes) to remember, with their paths; 0
  // keeps none.
  std::size_t top_files = 0;
  // How many mount point paths to remember (all are counted).
  std::size_t max_mount_paths = 16;
  // How many multiply-linked files (dev, ino) the Walker remembers, so as to count each once; past
  // it, their links are counted by share (see the header comment). About 64 bytes each: the
  // default bounds the set at about 16 MiB.
  std::size_t max_hard_links = 250'000;
  // Polled between directories: when set, Measure stops and returns a kCancelled error. May be
  // null. Not owned: it must outlive every Measure call made with these options.
  const std::atomic<bool>* cancel = nullptr;
  // Directory fds a Measure call keeps open at most (beyond those its threads are using); 0:
  // DirFdBudget::SizeFor(workers.threads), from the soft RLIMIT_NOFILE at the call.
  std::size_t max_held_fds = 0;
  // Tests only: called before each re-open of a released directory (DirFdBudget).
  std::function<void()> before_reopen;
};

// A file remembered by the top-N list; `path` is relative to the directory that held the entry
// given to Measure, e.g. "buildkit/metadata_v2.db".
struct LargeFile {
  std::string path;
  std::uint64_t allocated_bytes = 0;
  std::uint64_t apparent_bytes = 0;
};

// Measures entries; remembers hard links it has counted, the largest files and the mount points it
// met, across calls. One Measure call at a time (not thread-safe); each call runs its own
// short-lived worker threads.
class Walker {
 public:
  explicit Walker(WalkOptions options);
  ~Walker();
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  // Measures the entry `name` of the open directory `parent_fd` (AT_FDCWD with a path works too,
  // e.g. for the scan root). The filesystem of reference is the parent's (for AT_FDCWD: the entry's
  // own), so an entry that is itself a mount point yields mount_points == 1 and nothing else. Fails
  // only if the entry itself cannot be looked at (kMissing, kPermission, kIo) or the walk was
  // cancelled (kCancelled); *out is then unspecified. Paths remembered (largest files, mount
  // points) are `path_prefix`/name/..., or name/... when the prefix is empty.
  Status Measure(int parent_fd, const std::string& name, EntryTotals* out,
                 const std::string& path_prefix = "");

  // Largest regular files met so far (all calls), largest first, at most WalkOptions::top_files.
  std::vector<LargeFile> LargestFiles() const;
  // Paths of the first WalkOptions::max_mount_paths mount points met.
  const std::vector<std::string>& MountPointPaths() const;
  // The most directory fds the last Measure call held at once (tests: the budget holds).
  std::size_t PeakHeldFds() const;
  // Allocated bytes of the multiply-linked files met so far (all calls) some of whose links
  // (st_nlink) were never met.
  std::uint64_t SharedLinkBytes() const;
  // CPU time (user and system) the walker's own threads used, all calls; the calling thread's is
  // not counted.
  Duration CpuTime() const;

 private:
  struct State;
  WalkOptions options_;
  std::unique_ptr<State> state_;
};

// For GC's measuring and the dind probe: the totals of ONE entry (parent directory fd, name), with
// a fresh hard-link set: allocated and apparent bytes, inodes, newest mtime/ctime/atime in the
// subtree, whether a mount point lies at or inside it (EntryTotals::has_mount_inside), and the
// bytes of hard-linked files with links outside it (EntryTotals::shared_bytes). Same rules and
// errors as Walker::Measure.
Status MeasureEntry(int parent_fd, const std::string& name, const WalkOptions& options,
                    EntryTotals* out);

// Puts the calling thread in the idle I/O class and at `nice` (both best-effort: failures are
// ignored). Used by the walker's threads (WorkerOptions::low_priority).
void LowerThreadPriority(int nice);

}  // namespace cachewarden
