#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace cachewarden {

// openat(dir, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC): never follows a symlink, fails with
// ELOOP or ENOTDIR when `name` is not a directory. Returns the fd or -1 with errno set.
int OpenDirNoFollow(int dir_fd, const char* name);

// Checks a path meant to stay beneath a directory: relative, no empty, "." or ".." components. ""
// if fine, else why not.
std::string CheckRelativePath(std::string_view path);

// Opens `rel` (empty, or checked with CheckRelativePath) under the directory `root`: the root
// itself by its path (the operator's, trusted), then every component of `rel` with OpenDirNoFollow,
// so that a symlink anywhere in `rel` is refused (StatusCode::kSymlink) instead of followed.
Status OpenBeneath(const std::string& root, const std::string& rel, UniqueFd* out);

// The one directory reader: getdents64 over `dir_fd` from its start (the fd's offset is rewound),
// calling `on_entry(name, type)` for every name but "." and ".." (`name` points into the reader's
// buffer and is valid during the call only; `type` is the DT_* from getdents, DT_UNKNOWN on some
// filesystems) and then `on_batch` (may be empty) after each batch read (up to 64 KiB of entries),
// so that a caller can hand work out before the whole directory is read. Returns 0, or the errno of
// a failed read (entries passed before it stay passed). Blocks; no allocation per entry.
int ForEachDirEntry(int dir_fd,
                    const std::function<void(const char* name, unsigned char type)>& on_entry,
                    const std::function<void()>& on_batch = {});

struct DirName {
  std::string name;
  unsigned char type;  // DT_* from getdents; DT_UNKNOWN on some filesystems
  bool operator<(const DirName& o) const { return name < o.name; }
};
// Every name of the directory `dir_fd` (ForEachDirEntry), collected in the directory's order: a
// thin wrapper for callers that act on the names once the listing is done (the reaper unlinks them
// and hands subdirectories to other threads, GC measures each entry) or sort them first. Returns 0
// or an errno (the names read before it stay in *out).
int ReadDirNames(int dir_fd, std::vector<DirName>* out);

// statx(dir_fd, name, AT_SYMLINK_NOFOLLOW) with the basic fields and the mount id; name "" stats
// dir_fd itself. Returns 0 or an errno.
int StatxNoFollow(int dir_fd, const char* name, struct statx* out);

inline std::uint64_t DevOf(const struct statx& s) {
  return (static_cast<std::uint64_t>(s.stx_dev_major) << 32) | s.stx_dev_minor;
}

// A bound on the directory fds one walk (the walker's Measure, one reap) holds open, so that a tree
// thousands deep walks at a soft RLIMIT_NOFILE of 256 (or 64) instead of failing with EMFILE.
//
// The caller keeps a tree of Dir nodes (each one knows its parent, its name in it and the (dev,
// ino) it had when opened) and asks the budget for a directory's fd whenever it needs it (Pin),
// giving it back when done (Unpin). Past `max_held` open fds the least recently used unpinned ones
// are closed (released); a released directory is opened again when next needed:
// - on the way back up, when a child is finished (Close), from the child's own fd through
//   openat(child, "..", O_DIRECTORY|O_NOFOLLOW): one open per level, so a walk stays linear in
//   depth;
// - otherwise (Pin), through ".." of a child of it that is open, if there is one (another thread
//   came back up first), else from its nearest ancestor still open (or borrowed), by name, one
//   level at a time.
// Every re-opened directory is checked against the (dev, ino) recorded on the way down; a mismatch
// means the tree moved under the walk: the re-open fails with ESTALE, moved() turns true and the
// caller must stop (a walk is then incomplete, a reap failed): nothing is ever done through a
// directory that is not the one recorded.
//
// Fds held: at most max_held, plus those pinned at once (one or two per thread), plus one while a
// directory is re-opened by name. Thread-safe (one mutex; re-opens run under it). The fd of a
// pinned Dir stays open and unchanged until it is unpinned. Dir nodes are the caller's: a Dir must
// outlive every Dir below it and be Closed (if it ever held an fd) before it is destroyed.
class DirFdBudget {
 public:
  struct Dir {
    Dir* parent = nullptr;  // null only for a borrowed Dir
    std::string name;       // in `parent`
    std::uint64_t dev = 0;  // st_dev, st_ino when it was opened
    std::uint64_t ino = 0;

   private:
    friend class DirFdBudget;
    int fd = -1;  // own's, or the borrowed one; -1: released (or never opened)
    UniqueFd own;
    bool borrowed = false;
    int pins = 0;
    bool in_lru = false;
    std::list<Dir*>::iterator lru;
    std::list<Dir*>::iterator held;  // in held_, while `own` is open
  };

  // The budget for a walk or reap on `threads` threads, from the soft RLIMIT_NOFILE: a quarter of
  // it (the scan, GC's measuring and a reap may run at once, and the agent needs fds of its own),
  // less two per thread (the fds pinned beyond the budget), at least 2 and at most 4096 (more buys
  // nothing: re-opens on the way up cost one openat per level).
  static std::size_t SizeFor(int threads);

  // At least 2: a directory and the child it is re-opened from on the way up.
  explicit DirFdBudget(std::size_t max_held) : max_held_(max_held < 2 ? 2 : max_held) {}
  ~DirFdBudget();
  DirFdBudget(const DirFdBudget&) = delete;
  DirFdBudget& operator=(const DirFdBudget&) = delete;

  // `d` stands for `fd`, which the caller owns and keeps open (the walk's parent directory, or
  // AT_FDCWD); it is never released or closed here and has no parent.
  void Borrow(Dir* d, int fd);
  // `d` (parent, name, dev, ino set) now holds `fd` (owned from now on), pinned once; returns it.
  int Adopt(Dir* d, UniqueFd fd);
  // The fd of `d` in *fd, pinned, re-opened if it was released. Returns 0, or the errno of the
  // re-open (ESTALE: a directory on the way is not the one recorded).
  int Pin(Dir* d, int* fd);
  void Unpin(Dir* d);
  // `d` is finished (unpinned, nothing below it needs it): its fd is closed. With `parent_needed`,
  // a released parent is first re-opened through "..", and its fd is returned pinned in
  // *parent_fd (when `parent_fd` is not null; else it is left unpinned, held while the budget
  // allows). Returns 0, or the errno of re-opening the parent (ESTALE: it moved).
  int Close(Dir* d, bool parent_needed, int* parent_fd = nullptr);

  // A re-open found a directory that is not the one recorded (sticky).
  bool moved() const;
  // Owned fds open now, and the most at once (tests).
  std::size_t held() const;
  std::size_t peak_held() const;
  // Called before every re-open, under the budget's lock (tests: to move a directory meanwhile).
  void set_before_reopen(std::function<void()> hook) { before_reopen_ = std::move(hook); }

 private:
  int PinLocked(Dir* d, int* fd);
  int Reopen(int from_fd, const char* name, const Dir* want, UniqueFd* out);
  void Hold(Dir* d, UniqueFd fd);
  void Drop(Dir* d);
  void MakeEvictable(Dir* d);
  void Evict();

  const std::size_t max_held_;
  mutable std::mutex mu_;
  std::list<Dir*> lru_;   // unpinned held Dirs, most recently used first
  std::list<Dir*> held_;  // every Dir with an fd of its own open
  std::size_t peak_ = 0;
  bool moved_ = false;
  std::function<void()> before_reopen_;
};

}  // namespace cachewarden
