#include "fs/walker.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/unique_fd.h"
#include "fs/dirfd.h"

namespace cachewarden {
namespace {

constexpr unsigned kStatxMask = STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_SIZE |
                                STATX_BLOCKS | STATX_MTIME | STATX_CTIME | STATX_ATIME;
constexpr int kStatxFlags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT;

SystemTime ToTime(const struct statx_timestamp& t) { return ToSystemTime(t.tv_sec, t.tv_nsec); }

void CountSkip(int err, SkipCounts* s) {
  if (err == ENOENT || err == ENOTDIR || err == ESTALE) {
    ++s->vanished;
  } else if (err == EACCES || err == EPERM) {
    ++s->permission;
    if (s->first_error == 0) s->first_error = err;
  } else {
    ++s->error;
    if (s->first_error == 0) s->first_error = err;
  }
}

std::string JoinPath(const std::string& dir, const char* name) {
  std::string p;
  p.reserve(dir.size() + 1 + std::strlen(name));
  p += dir;
  p += '/';
  p += name;
  return p;
}

// A directory of the walk: alive while a queued subdirectory or a directory below it refers to it
// (through `parent`), so that its fd can be given back to the budget and re-opened later. The
// walk's top one borrows the Measure call's parent_fd.
struct DirRef {
  DirRef(DirFdBudget* b, std::string p) : budget(b), path(std::move(p)) {}
  // Given back on the way up: a parent that others still refer to is re-opened through ".." now,
  // while this directory's fd is at hand, if the budget had released it.
  ~DirRef() { budget->Close(&dir, parent != nullptr && parent.use_count() > 1); }
  DirFdBudget* budget;
  std::string path;  // relative to the Measure call's parent directory
  std::shared_ptr<DirRef> parent;
  DirFdBudget::Dir dir;
};

struct WorkItem {
  std::shared_ptr<DirRef> parent;
  std::string name;
  dev_t dev;
  ino_t ino;
};

bool LargerFile(const LargeFile& a, const LargeFile& b) {
  return a.allocated_bytes > b.allocated_bytes;
}

// (dev, ino) pairs of multiply-linked files already counted, with how many of their links were met;
// sharded so that workers rarely wait on each other. It holds at most `capacity` pairs (about 64
// bytes each): past it, a new file's links are counted by share (Account).
class HardLinkSet {
 public:
  enum class Met { kFirst, kAgain, kFull };
  explicit HardLinkSet(std::size_t capacity) : capacity_(capacity) {}
  // Notes one link of (dev, ino): kFirst if (dev, ino) was not in the set yet, kAgain if it was,
  // kFull if it was not and the set is full (then it is not added).
  Met Insert(dev_t dev, ino_t ino, std::uint64_t nlink, std::uint64_t allocated) {
    const std::uint64_t key = static_cast<std::uint64_t>(ino) * 0x9E3779B97F4A7C15ULL ^ dev;
    Shard& s = shards_[key % shards_.size()];
    std::lock_guard lock(s.mu);
    if (auto it = s.seen.find(Key{dev, ino}); it != s.seen.end()) {
      ++it->second.met;
      return Met::kAgain;
    }
    std::size_t n = size_.load(std::memory_order_relaxed);
    do {
      if (n >= capacity_) return Met::kFull;
    } while (!size_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    s.seen.emplace(Key{dev, ino},
                   Links{static_cast<std::uint32_t>(std::min<std::uint64_t>(nlink, UINT32_MAX)), 1,
                         allocated});
    return Met::kFirst;
  }
  // Allocated bytes of the files some of whose links were never met.
  std::uint64_t SharedBytes() const {
    std::uint64_t out = 0;
    for (const Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      for (const auto& [k, l] : s.seen) out += l.met < l.nlink ? l.allocated : 0;
    }
    return out;
  }

 private:
  struct Key {
    dev_t dev;
    ino_t ino;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::uint64_t>()(k.ino) ^ (std::hash<std::uint64_t>()(k.dev) << 1);
    }
  };
  struct Links {
    std::uint32_t nlink, met;
    std::uint64_t allocated;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<Key, Links, KeyHash> seen;
  };
  const std::size_t capacity_;
  std::atomic<std::size_t> size_{0};
  std::array<Shard, 16> shards_;
};

// True before the first entry is accounted (its times then start the newest and oldest).
bool NothingCounted(const EntryTotals& t) { return t.inodes == 0 && t.links_by_share == 0; }

}  // namespace

void SkipCounts::Add(const SkipCounts& o) {
  vanished += o.vanished;
  permission += o.permission;
  error += o.error;
  if (first_error == 0) first_error = o.first_error;
}

void EntryTotals::Add(const EntryTotals& o) {
  if (!NothingCounted(o)) {
    if (NothingCounted(*this)) {
      newest_mtime = o.newest_mtime;
      oldest_mtime = o.oldest_mtime;
      newest_ctime = o.newest_ctime;
      newest_atime = o.newest_atime;
    } else {
      newest_mtime = std::max(newest_mtime, o.newest_mtime);
      oldest_mtime = std::min(oldest_mtime, o.oldest_mtime);
      newest_ctime = std::max(newest_ctime, o.newest_ctime);
      newest_atime = std::max(newest_atime, o.newest_atime);
    }
  }
  allocated_bytes += o.allocated_bytes;
  apparent_bytes += o.apparent_bytes;
  inodes += o.inodes;
  mount_points += o.mount_points;
  links_by_share += o.links_by_share;
  skipped.Add(o.skipped);
}

void LowerThreadPriority(int nice) {
  constexpr int kWhoProcess = 1;  // IOPRIO_WHO_PROCESS; 0 = the calling thread
  constexpr int kClassIdle = 3;   // IOPRIO_CLASS_IDLE
  constexpr int kClassShift = 13;
  (void)syscall(SYS_ioprio_set, kWhoProcess, 0, kClassIdle << kClassShift);
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
}

struct Walker::State {
  explicit State(std::size_t max_hard_links) : links(max_hard_links) {}
  HardLinkSet links;
  std::unique_ptr<DirFdBudget> fds;  // one per Measure call
  std::vector<LargeFile> top;        // largest first
  std::vector<std::string> mount_paths;

  // One Measure call.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<WorkItem> stack;
  int active = 0;
  bool stop = false;
  bool cancelled = false;
  dev_t root_dev = 0;
  EntryTotals result;
  double link_inode_share = 0;  // sum of 1/nlink over the links counted by share
  std::size_t peak_held_fds = 0;
  Duration cpu{};  // CPU time of the walker's own threads, all calls
};

namespace {

// One worker's view: its own totals and top list, merged at the end.
class WalkWorker {
 public:
  WalkWorker(const WalkOptions& o, HardLinkSet* links, DirFdBudget* fds, dev_t root_dev)
      : options_(o), links_(links), fds_(fds), root_dev_(root_dev) {}

  // Counts the entry; true if it is a directory to enter. `check_mount_attr` is false only for a
  // walk root given by path (it may be a volume's root).
  bool Account(const struct statx& st, const std::string& dir, const char* name,
               bool check_mount_attr) {
    const dev_t dev = makedev(st.stx_dev_major, st.stx_dev_minor);
    const bool mount_root = check_mount_attr &&
                            (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
                            (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    if (dev != root_dev_ || mount_root) {
      ++totals.mount_points;
      if (mount_paths.size() < options_.max_mount_paths) {
        mount_paths.push_back(dir.empty() ? std::string(name) : JoinPath(dir, name));
      }
      return false;
    }
    const bool is_dir = S_ISDIR(st.stx_mode);
    std::uint64_t allocated = st.stx_blocks * 512;
    std::uint64_t apparent = st.stx_size;
    std::uint64_t inodes = 1;
    const bool first = NothingCounted(totals);
    if (!is_dir && st.stx_nlink > 1) {
      switch (links_->Insert(dev, st.stx_ino, st.stx_nlink, allocated)) {
        case HardLinkSet::Met::kFirst:
          break;
        case HardLinkSet::Met::kAgain:
          return false;
        case HardLinkSet::Met::kFull:
          // Whether another link of this file was counted is not known any more: each link
          // counts 1/nlink of the file, so a file whose links are all in the walk counts once (to
          // rounding), and one with links outside counts the share inside.
          allocated /= st.stx_nlink;
          apparent /= st.stx_nlink;
          inodes = 0;
          link_inode_share += 1.0 / st.stx_nlink;
          ++totals.links_by_share;
          break;
      }
    }
    const SystemTime mtime = ToTime(st.stx_mtime);
    if (first) {
      totals.newest_mtime = totals.oldest_mtime = mtime;
      totals.newest_ctime = ToTime(st.stx_ctime);
      totals.newest_atime = ToTime(st.stx_atime);
    } else {
      totals.newest_mtime = std::max(totals.newest_mtime, mtime);
      totals.oldest_mtime = std::min(totals.oldest_mtime, mtime);
      totals.newest_ctime = std::max(totals.newest_ctime, ToTime(st.stx_ctime));
      totals.newest_atime = std::max(totals.newest_atime, ToTime(st.stx_atime));
    }
    totals.inodes += inodes;
    totals.allocated_bytes += allocated;
    totals.apparent_bytes += apparent;
    if (S_ISREG(st.stx_mode)) OfferLargeFile(dir, name, allocated, apparent);
    return is_dir;
  }

  // Opens the directory of `item` and accounts each of its entries; queues subdirectories through
  // `flush` after every batch so other workers can start on them while this one continues.
  template <typename Flush>
  void ReadDir(WorkItem item, const Flush& flush) {
    const std::string path =
        item.parent->path.empty() ? item.name : JoinPath(item.parent->path, item.name.c_str());
    int parent_fd = -1;
    if (int err = fds_->Pin(&item.parent->dir, &parent_fd); err != 0) {
      // A parent released and not found again; a moved tree stops the walk (Walker::Measure).
      if (!fds_->moved()) CountSkip(err, &totals.skipped);
      return;
    }
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME;
    UniqueFd fd(openat(parent_fd, item.name.c_str(), flags));
    if (!fd.valid() && errno == EPERM) {  // O_NOATIME needs ownership or CAP_FOWNER
      fd.Reset(openat(parent_fd, item.name.c_str(), flags & ~O_NOATIME));
    }
    const int open_err = errno;
    fds_->Unpin(&item.parent->dir);
    if (!fd.valid()) {
      CountSkip(open_err, &totals.skipped);
      return;
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0 || st.st_dev != item.dev || st.st_ino != item.ino) {
      ++totals.skipped.vanished;  // replaced between statx and open
      return;
    }
    auto dir = std::make_shared<DirRef>(fds_, path);
    dir->parent = std::move(item.parent);
    dir->dir.parent = &dir->parent->dir;
    dir->dir.name = std::move(item.name);
    dir->dir.dev = st.st_dev;
    dir->dir.ino = st.st_ino;
    const int dir_fd = fds_->Adopt(&dir->dir, std::move(fd));
    std::vector<WorkItem> subdirs;
    auto entry = [&](const char* name, unsigned char) {
      struct statx sx {};
      if (statx(dir_fd, name, kStatxFlags, kStatxMask, &sx) != 0) {
        CountSkip(errno, &totals.skipped);
        return;
      }
      if (Account(sx, path, name, true)) {
        subdirs.push_back({dir, name, makedev(sx.stx_dev_major, sx.stx_dev_minor),
                           static_cast<ino_t>(sx.stx_ino)});
      }
    };
    auto batch = [&] {
      if (subdirs.empty()) return;
      flush(&subdirs);
      subdirs.clear();
    };
    if (int err = ForEachDirEntry(dir_fd, entry, batch); err != 0) CountSkip(err, &totals.skipped);
    fds_->Unpin(&dir->dir);
  }

  EntryTotals totals;
  double link_inode_share = 0;  // inodes of the links counted by share (EntryTotals::inodes)
  std::vector<LargeFile> top;   // min-heap by allocated bytes
  std::vector<std::string> mount_paths;

 private:
  void OfferLargeFile(const std::string& dir, const char* name, std::uint64_t allocated,
                      std::uint64_t apparent) {
    const std::size_t n = options_.top_files;
    if (n == 0) return;
    if (top.size() >= n && allocated <= top.front().allocated_bytes) return;
    top.push_back({dir.empty() ? std::string(name) : JoinPath(dir, name), allocated, apparent});
    std::push_heap(top.begin(), top.end(), LargerFile);
    if (top.size() > n) {
      std::pop_heap(top.begin(), top.end(), LargerFile);
      top.pop_back();
    }
  }

  const WalkOptions& options_;
  HardLinkSet* links_;
  DirFdBudget* fds_;
  dev_t root_dev_;
};

}  // namespace

Walker::Walker(WalkOptions options)
    : options_(options), state_(std::make_unique<State>(options.max_hard_links)) {
  if (options_.workers.threads < 1) options_.workers.threads = 1;
}

Walker::~Walker() = default;

std::vector<LargeFile> Walker::LargestFiles() const { return state_->top; }

std::size_t Walker::PeakHeldFds() const { return state_->peak_held_fds; }

const std::vector<std::string>& Walker::MountPointPaths() const { return state_->mount_paths; }

std::uint64_t Walker::SharedLinkBytes() const { return state_->links.SharedBytes(); }

Duration Walker::CpuTime() const { return state_->cpu; }

Status Walker::Measure(int parent_fd, const std::string& name, EntryTotals* out,
                       const std::string& path_prefix) {
  State& s = *state_;
  struct statx sx {};
  if (statx(parent_fd, name.c_str(), kStatxFlags, kStatxMask, &sx) != 0) {
    return PosixError("statx", name, errno);
  }
  const bool by_path = parent_fd == AT_FDCWD;
  s.root_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  if (!by_path) {
    struct stat pst {};
    if (fstat(parent_fd, &pst) != 0) return PosixError("fstat", name, errno);
    s.root_dev = pst.st_dev;
  }
  s.stack.clear();
  s.active = 0;
  s.stop = false;
  s.cancelled = false;
  s.result = EntryTotals();
  s.fds = std::make_unique<DirFdBudget>(options_.max_held_fds > 0
                                            ? options_.max_held_fds
                                            : DirFdBudget::SizeFor(options_.workers.threads));
  s.fds->set_before_reopen(options_.before_reopen);

  // The entry itself is accounted on the calling thread.
  WalkWorker first(options_, &s.links, s.fds.get(), s.root_dev);
  if (first.Account(sx, path_prefix, name.c_str(), !by_path)) {
    auto top = std::make_shared<DirRef>(s.fds.get(), path_prefix);
    s.fds->Borrow(&top->dir, parent_fd);
    s.stack.push_back({std::move(top), name, makedev(sx.stx_dev_major, sx.stx_dev_minor),
                       static_cast<ino_t>(sx.stx_ino)});
  }
  s.link_inode_share = 0;
  auto merge = [&](WalkWorker& w) {
    s.result.Add(w.totals);
    s.link_inode_share += w.link_inode_share;
    for (auto& m : w.mount_paths) {
      if (s.mount_paths.size() < options_.max_mount_paths) s.mount_paths.push_back(m);
    }
    s.top.insert(s.top.end(), w.top.begin(), w.top.end());
    std::sort(s.top.begin(), s.top.end(), LargerFile);
    if (s.top.size() > options_.top_files) s.top.resize(options_.top_files);
  };
  merge(first);

  // `own_thread`: a worker started here, whose priority may be lowered (never the caller's thread).
  auto run = [&](bool own_thread) {
    if (own_thread && options_.workers.low_priority) LowerThreadPriority(options_.workers.nice);
    WalkWorker w(options_, &s.links, s.fds.get(), s.root_dev);
    auto flush = [&](std::vector<WorkItem>* items) {
      std::lock_guard lock(s.mu);
      for (auto& i : *items) s.stack.push_back(std::move(i));
      s.cv.notify_all();
    };
    std::unique_lock lock(s.mu);
    for (;;) {
      s.cv.wait(lock, [&] { return s.stop || !s.stack.empty() || s.active == 0; });
      if (s.stop || s.stack.empty()) break;
      if (options_.cancel != nullptr && options_.cancel->load()) {
        s.stop = s.cancelled = true;
        s.cv.notify_all();
        break;
      }
      if (s.fds->moved()) {  // the rest cannot be reached safely: incomplete (Measure)
        s.stop = true;
        s.cv.notify_all();
        break;
      }
      WorkItem item = std::move(s.stack.back());
      s.stack.pop_back();
      ++s.active;
      lock.unlock();
      w.ReadDir(std::move(item), flush);
      lock.lock();
      if (--s.active == 0 && s.stack.empty()) s.cv.notify_all();
    }
    s.stack.clear();  // releases queued fds once stopped
    merge(w);
    if (own_thread) s.cpu += ThreadCpuTime();
  };
  if (!s.stack.empty()) {
    std::vector<std::thread> threads;
    try {
      threads.reserve(static_cast<std::size_t>(options_.workers.threads));
      for (int i = 0; i < options_.workers.threads; ++i) threads.emplace_back(run, true);
    } catch (const std::exception&) {
      // A thread could not be started (std::system_error, bad_alloc): those that did start finish
      // the walk by themselves; with none, walk here.
    }
    for (auto& t : threads) t.join();
    if (threads.empty()) run(false);
  }
  const bool moved = s.fds->moved();
  s.peak_held_fds = s.fds->peak_held();
  s.fds.reset();
  if (s.cancelled) return Status::Error(StatusCode::kCancelled, "walk cancelled", 0, name);
  if (moved) {
    // A directory re-opened on the way back was not the one left: the tree moved under the walk,
    // which stopped there. What it did not see is unknown, as for an unreadable directory.
    ++s.result.skipped.error;
    s.result.skipped.first_error = ESTALE;
  }
  s.result.inodes += static_cast<std::uint64_t>(std::llround(s.link_inode_share));
  *out = s.result;
  return Status::Ok();
}

Status MeasureEntry(int parent_fd, const std::string& name, const WalkOptions& options,
                    EntryTotals* out) {
  Walker walker(options);
  Status s = walker.Measure(parent_fd, name, out);
  if (s.ok()) out->shared_bytes = walker.SharedLinkBytes();
  return s;
}

}  // namespace cachewarden
