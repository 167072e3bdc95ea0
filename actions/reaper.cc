#include "actions/reaper.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "base/log.h"
#include "fs/dirfd.h"
#include "fs/mountinfo.h"

namespace cachewarden {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A token bucket shared by the threads of one reap: at most `rate` operations a second. Sleeps in
// short slices so that a cancel is seen promptly.
class Throttle {
 public:
  Throttle(double rate, const std::atomic<bool>* cancel) : rate_(rate), cancel_(cancel) {}
  // Waits for the next slot. False when cancelled (before or while waiting):
  // the operation must then not be done.
  bool Acquire() {
    if (Cancelled()) return false;
    if (rate_ <= 0) return true;
    SteadyClock::time_point at;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto now = SteadyClock::now();
      if (next_ < now) next_ = now;
      at = next_;
      next_ += std::chrono::duration_cast<SteadyClock::duration>(
          std::chrono::duration<double>(1.0 / rate_));
    }
    while (SteadyClock::now() < at && !Cancelled()) {
      std::this_thread::sleep_for(
          std::min<SteadyClock::duration>(at - SteadyClock::now(), std::chrono::milliseconds(50)));
    }
    return !Cancelled();
  }

 private:
  bool Cancelled() const { return cancel_ != nullptr && cancel_->load(); }

  double rate_;
  const std::atomic<bool>* cancel_;
  std::mutex mutex_;
  SteadyClock::time_point next_{};
};

// Detaches (umount2 MNT_DETACH) the mount whose root the directory fd `dir_fd` holds open, through
// /proc/self/fd/N: no path is resolved again, so a name swapped for a symlink since it was opened
// cannot redirect the unmount. Returns 0 or the errno.
int DetachMountOf(int dir_fd) {
  const std::string self = fmt::format("/proc/self/fd/{}", dir_fd);
  return ::umount2(self.c_str(), MNT_DETACH) == 0 ? 0 : errno;
}

// Tells whether a directory met while emptying an entry is on the entry's own mount, or the root
// of another mount that must not be entered. The kernel says where it can (the statx mount id and
// STATX_ATTR_MOUNT_ROOT, Linux >= 5.8); where it cannot, the (dev, ino) of every mount root of our
// namespace (from /proc/self/mountinfo, stat'ed when the check is made) stand in.
class MountCheck {
 public:
  // For the mount that `base` (statx of an open directory) is on.
  MountCheck(const struct statx& base, const ReapOptions& o)
      : emulate_(o.emulate_no_mount_id), dev_(DevOf(base)) {
    struct statx b = Seen(base);
    has_mnt_id_ = (b.stx_mask & STATX_MNT_ID) != 0;
    mnt_id_ = b.stx_mnt_id;
    if (!has_mnt_id_) ReadMountRoots();
  }

  // The statx of a directory as the mount check sees it: with the seam, as an old kernel fills it.
  struct statx Seen(const struct statx& sx) const {
    struct statx out = sx;
    if (emulate_) {
      out.stx_mask &= ~static_cast<std::uint32_t>(STATX_MNT_ID);
      out.stx_mnt_id = 0;
      out.stx_attributes &= ~static_cast<std::uint64_t>(STATX_ATTR_MOUNT_ROOT);
      out.stx_attributes_mask &= ~static_cast<std::uint64_t>(STATX_ATTR_MOUNT_ROOT);
    }
    return out;
  }

  // Why no mount can be told apart ("" when one can): the kernel reports no mount ids and the
  // mountinfo could not be read.
  const std::string& unknown() const { return unknown_; }

  // Whether the directory `raw` (statx of it, opened below the base) is on the base's mount.
  bool SameMount(const struct statx& raw) const {
    struct statx sx = Seen(raw);
    if (DevOf(sx) != dev_) return false;
    if ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
        (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) {
      return false;
    }
    if (has_mnt_id_ && (sx.stx_mask & STATX_MNT_ID) != 0) return sx.stx_mnt_id == mnt_id_;
    return !unknown_.empty() ? false : !mount_roots_.contains({DevOf(sx), sx.stx_ino});
  }

 private:
  void ReadMountRoots() {
    MountTable table;
    if (Status s = ReadMountInfo("/proc/self/mountinfo", &table); !s.ok()) {
      unknown_ = "the kernel reports no mount ids (Linux < 5.8) and " + s.ToString();
      return;
    }
    for (const MountEntry& e : table.entries) {
      struct statx sx;
      if (StatxNoFollow(AT_FDCWD, e.mount_point.c_str(), &sx) == 0) {
        mount_roots_.insert({DevOf(sx), sx.stx_ino});
      }
    }
  }

  bool emulate_;
  std::uint64_t dev_;
  bool has_mnt_id_ = false;
  std::uint64_t mnt_id_ = 0;
  std::set<std::pair<std::uint64_t, std::uint64_t>> mount_roots_;
  std::string unknown_;
};

// A directory being emptied. Lives until its last child is done; then it is removed from its parent
// (by name, relative to the parent's fd).
struct Node {
  Node* parent = nullptr;
  std::string name;
  DirFdBudget::Dir dir;             // its fd, held while the budget allows (opened when processed)
  std::atomic<int> pending{1};      // itself + children not yet finished
  std::atomic<bool> failed{false};  // something below could not be removed
  bool opened = false;              // false: vanished or not a directory
};

class TreeRemover {
 public:
  TreeRemover(const ReapOptions& o, const MountCheck& mounts)
      : options_(o),
        throttle_(o.max_delete_rate, o.cancel),
        mounts_(mounts),
        fds_(o.max_held_fds > 0 ? o.max_held_fds : DirFdBudget::SizeFor(o.threads)) {
    fds_.set_before_reopen(o.before_reopen);
  }

  // Empties the directory `name` of `parent_fd`, open as `fd` (it is not removed itself).
  void Run(int parent_fd, UniqueFd fd, const std::string& name) {
    std::vector<std::thread> helpers;
    helpers.reserve(static_cast<std::size_t>(std::max(options_.threads - 1, 0)));
    fds_.Borrow(&top_, parent_fd);
    auto* root = new Node;
    root->name = name;
    root->dir.parent = &top_;
    root->dir.name = name;
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0) {
      root->dir.dev = st.st_dev;
      root->dir.ino = st.st_ino;
    }
    fds_.Adopt(&root->dir, std::move(fd));
    root->opened = true;
    root_ = root;
    Push(root);
    for (int i = 1; i < options_.threads; ++i) {
      try {
        helpers.emplace_back([this] { Work(); });
      } catch (const std::system_error& e) {
        // Out of threads: go on with those started (this one always works).
        LogWarn("gc could not start a deletion thread, goes on with fewer",
                {{"threads", helpers.size() + 1}, {"error", e.what()}});
        break;
      }
    }
    Work();
    for (auto& t : helpers) t.join();
  }

  bool root_failed() const { return root_failed_; }
  ReapOutcome& outcome() { return outcome_; }
  bool saw_mount() const { return saw_mount_; }

 private:
  bool Cancelled() const {
    return (options_.cancel != nullptr && options_.cancel->load()) || moved_.load();
  }

  // A directory re-opened on the way back is not the one left (the tree moved): everything stops,
  // and nothing more is done through any directory of this reap.
  void Moved(Node* n, const std::string& leaf) {
    moved_ = true;
    Error(n, leaf, ESTALE, "moved");
    n->failed = true;
  }

  void Push(Node* n) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(n);
    cv_.notify_one();
  }

  void Work() {
    for (;;) {
      Node* n;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        idle_++;
        cv_.wait(lock, [this] { return done_ || !queue_.empty(); });
        idle_--;
        if (queue_.empty()) return;
        n = queue_.back();  // depth first: keeps few directories open
        queue_.pop_back();
      }
      // A thread keeps one child of the directory it emptied for itself: a deep chain runs on one
      // thread without a hand-off per level.
      while (n != nullptr) n = Process(n);
    }
  }

  // Shares `kids` with idle threads, keeping the last for the caller.
  Node* Share(std::vector<Node*>& kids) {
    if (kids.empty()) return nullptr;
    Node* mine = kids.back();
    kids.pop_back();
    if (!kids.empty()) {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.insert(queue_.end(), kids.begin(), kids.end());
      if (idle_ > 0) cv_.notify_all();
    }
    return mine;
  }

  std::string PathOf(const Node* n, const std::string& leaf = {}) const {
    std::string p = leaf;
    for (; n != nullptr; n = n->parent) p = p.empty() ? n->name : n->name + "/" + p;
    return p;
  }

  void Error(const Node* n, const std::string& leaf, int err, const char* what) {
    std::lock_guard<std::mutex> lock(mutex_);
    outcome_.errors++;
    if (outcome_.first_errors.size() < 16) {
      outcome_.first_errors.push_back({PathOf(n, leaf), err, what});
    }
  }

  void Removed() { removed_.fetch_add(1, std::memory_order_relaxed); }

  // Opens `n` below its parent (pinned in the budget on success); a mount is detached or refused
  // here.
  bool Open(Node* n) {
    int parent_fd = -1;
    if (int err = fds_.Pin(&n->parent->dir, &parent_fd); err != 0) {
      if (fds_.moved()) {
        Moved(n->parent, n->name);
      } else {
        Error(n->parent, n->name, err, "open");
        n->parent->failed = true;
      }
      return false;
    }
    const bool opened = OpenBelow(n, parent_fd);
    fds_.Unpin(&n->parent->dir);
    return opened;
  }

  bool OpenBelow(Node* n, int parent_fd) {
    for (int attempt = 0; attempt < 16; ++attempt) {
      UniqueFd fd(OpenDirNoFollow(parent_fd, n->name.c_str()));
      if (!fd.valid()) {
        int err = errno;
        if (err == ENOENT) return false;  // vanished: nothing to do
        if (err == ELOOP || err == ENOTDIR) {
          // Not a directory (any more): unlink the name itself, never follow.
          UnlinkName(n->parent, parent_fd, n->name);
          return false;
        }
        Error(n->parent, n->name, err, "open");
        n->parent->failed = true;
        return false;
      }
      struct statx sx;
      if (int err = StatxNoFollow(fd.get(), "", &sx); err != 0) {
        Error(n->parent, n->name, err, "stat");
        n->parent->failed = true;
        return false;
      }
      if (mounts_.SameMount(sx)) {
        n->dir.parent = &n->parent->dir;
        n->dir.name = n->name;
        n->dir.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
        n->dir.ino = sx.stx_ino;
        fds_.Adopt(&n->dir, std::move(fd));
        return true;
      }
      if (!options_.unmount_stale) {
        saw_mount_ = true;
        Error(n->parent, n->name, EXDEV, "mount");
        n->parent->failed = true;
        return false;
      }
      if (int err = DetachMountOf(fd.get()); err != 0) {
        saw_mount_ = true;
        Error(n->parent, n->name, err, "umount");
        n->parent->failed = true;
        return false;
      }
      LogInfo("gc detached a mount inside an entry", {{"path", PathOf(n)}});
      outcome_unmounted_.fetch_add(1);
    }
    Error(n->parent, n->name, ELOOP, "umount");
    n->parent->failed = true;
    return false;
  }

  // Unlinks `name` of `dir`, open (pinned) as `dir_fd`.
  void UnlinkName(Node* dir, int dir_fd, const std::string& name,
                  std::vector<Node*>* kids = nullptr) {
    if (!throttle_.Acquire()) {  // cancelled
      dir->failed = true;
      return;
    }
    if (::unlinkat(dir_fd, name.c_str(), 0) == 0) {
      Removed();
      return;
    }
    int err = errno;
    if (err == ENOENT) return;
    if (err == EISDIR && kids != nullptr) {  // became a directory since it was listed
      Child(dir, name, kids);
      return;
    }
    Error(dir, name, err, "unlink");
    dir->failed = true;
  }

  void Child(Node* dir, const std::string& name, std::vector<Node*>* kids) {
    auto* c = new Node;
    c->parent = dir;
    c->name = name;
    dir->pending.fetch_add(1);
    kids->push_back(c);
  }

  // Empties `n` and returns one of its subdirectories for the caller to do next (the others are
  // queued), or null.
  Node* Process(Node* n) {
    std::vector<Node*> kids;
    if (n->parent != nullptr) {
      if (Cancelled()) {
        n->failed = true;
      } else {
        n->opened = Open(n);
      }
    }
    if (n->opened) {
      // Pinned by Open (the root: by Run) until its names are done; this pin only reads the fd.
      int fd = -1;
      (void)fds_.Pin(&n->dir, &fd);
      fds_.Unpin(&n->dir);
      std::vector<DirName> names;
      if (int err = ReadDirNames(fd, &names); err != 0) {
        Error(n, "", err, "read");
        n->failed = true;
      }
      for (const auto& d : names) {
        if (Cancelled()) {
          n->failed = true;
          break;
        }
        unsigned char type = d.type;
        if (type == DT_UNKNOWN) {
          struct stat st;
          if (::fstatat(fd, d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            int err = errno;
            if (err == ENOENT) continue;  // vanished meanwhile
            Error(n, d.name, err, "stat");
            n->failed = true;
            continue;
          }
          type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
        }
        if (type == DT_DIR) {
          Child(n, d.name, &kids);
        } else {
          UnlinkName(n, fd, d.name, &kids);
        }
      }
      fds_.Unpin(&n->dir);
    }
    Node* next = Share(kids);
    Finish(n);
    return next;
  }

  void Finish(Node* n) {
    while (n != nullptr && n->pending.fetch_sub(1) == 1) {
      Node* parent = n->parent;
      if (parent == nullptr) {  // the entry itself: its caller removes it
        root_failed_ = n->failed.load() || Cancelled();
        fds_.Close(&n->dir, false);
        delete n;
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
        cv_.notify_all();
        return;
      }
      if (n->failed || !n->opened || moved_) {
        if (n->failed || moved_) parent->failed = true;
        fds_.Close(&n->dir, false);
      } else if (int parent_fd = -1; int err = fds_.Close(&n->dir, true, &parent_fd)) {
        // The parent, released, could not be re-opened as the directory it was.
        if (fds_.moved()) {
          Moved(parent, n->name);
        } else {
          Error(parent, n->name, err, "open");
          parent->failed = true;
        }
      } else {
        if (!throttle_.Acquire()) {  // cancelled
          parent->failed = true;
        } else if (::unlinkat(parent_fd, n->name.c_str(), AT_REMOVEDIR) == 0) {
          Removed();
        } else if (int e = errno; e == ENOTDIR) {
          UnlinkName(parent, parent_fd, n->name);  // swapped for a link: remove the link
        } else if (e != ENOENT) {
          Error(parent, n->name, e, "rmdir");
          parent->failed = true;
        }
        fds_.Unpin(&parent->dir);
      }
      delete n;
      n = parent;
    }
  }

 public:
  void Collect() {
    outcome_.removed += removed_.load();
    outcome_.unmounted += outcome_unmounted_.load();
  }

 private:
  const ReapOptions& options_;
  Throttle throttle_;
  const MountCheck& mounts_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Node*> queue_;
  bool done_ = false;
  int idle_ = 0;
  DirFdBudget fds_;
  DirFdBudget::Dir top_;  // the entry's parent, borrowed
  Node* root_ = nullptr;
  bool root_failed_ = false;
  std::atomic<bool> moved_{false};
  std::atomic<bool> saw_mount_{false};
  std::atomic<std::uint64_t> removed_{0};
  std::atomic<std::uint64_t> outcome_unmounted_{0};
  ReapOutcome outcome_;
};

}  // namespace

ReapOutcome ReapEntry(int parent_fd, const std::string& name, std::uint64_t dev, std::uint64_t ino,
                      const ReapOptions& options) {
  ReapOutcome out;
  struct statx parent_sx, sx;
  if (int err = StatxNoFollow(parent_fd, "", &parent_sx); err != 0) {
    out.result = ReapResult::kError;
    out.errors = 1;
    out.first_errors.push_back({".", err, "stat"});
    return out;
  }
  if (int err = StatxNoFollow(parent_fd, name.c_str(), &sx); err != 0) {
    out.result = err == ENOENT ? ReapResult::kVanished : ReapResult::kError;
    if (err != ENOENT) {
      out.errors = 1;
      out.first_errors.push_back({name, err, "stat"});
    }
    return out;
  }
  if (DevOf(sx) != dev || sx.stx_ino != ino) {
    out.result = ReapResult::kChanged;
    return out;
  }
  if (!S_ISDIR(sx.stx_mode)) {
    // A file or a symlink as the entry: the name goes, nothing is followed.
    if (options.cancel != nullptr && options.cancel->load()) {
      out.result = ReapResult::kCancelled;
    } else if (::unlinkat(parent_fd, name.c_str(), 0) == 0) {
      out.removed = 1;
    } else if (int err = errno; err == ENOENT) {
      out.result = ReapResult::kVanished;
    } else {
      out.result = ReapResult::kError;
      out.errors = 1;
      out.first_errors.push_back({name, err, "unlink"});
    }
    return out;
  }

  UniqueFd fd(OpenDirNoFollow(parent_fd, name.c_str()));
  struct statx opened;
  if (!fd.valid() || StatxNoFollow(fd.get(), "", &opened) != 0 || DevOf(opened) != dev ||
      opened.stx_ino != ino) {
    // Replaced between the stat and the open (or made a symlink): untouched.
    out.result = ReapResult::kChanged;
    return out;
  }
  if (!MountCheck(parent_sx, options).SameMount(opened)) {
    // The entry is itself a mount point: what is beneath is another directory, of an age and size
    // nobody measured. Never emptied here; GC detaches it and measures again first.
    out.result = ReapResult::kMount;
    return out;
  }
  const MountCheck mounts(opened, options);
  if (!mounts.unknown().empty()) {
    out.result = ReapResult::kMount;
    out.errors = 1;
    out.first_errors.push_back({name, ENOTSUP, "mount check: " + mounts.unknown()});
    LogWarn("gc refuses to delete an entry: cannot tell mounts apart",
            {{"entry", name}, {"reason", mounts.unknown()}});
    return out;
  }
  TreeRemover remover(options, mounts);
  remover.Run(parent_fd, std::move(fd), name);
  remover.Collect();
  ReapOutcome& r = remover.outcome();
  r.unmounted += out.unmounted;
  bool cancelled = options.cancel != nullptr && options.cancel->load();
  if (!remover.root_failed()) {
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) == 0) {
      r.removed++;
    } else if (int err = errno; err != ENOENT) {
      r.errors++;
      r.first_errors.push_back({name, err, "rmdir"});
    }
  }
  if (r.errors == 0 && !remover.root_failed()) {
    r.result = ReapResult::kDeleted;
  } else if (cancelled) {
    r.result = ReapResult::kCancelled;
  } else if (remover.saw_mount()) {
    r.result = ReapResult::kMount;
  } else {
    r.result = ReapResult::kError;
  }
  return std::move(r);
}

}  // namespace cachewarden
