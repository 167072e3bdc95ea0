#include "fs/dirfd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cachewarden {

int OpenDirNoFollow(int dir_fd, const char* name) {
  int fd;
  do {
    fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

std::string CheckRelativePath(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (path.front() == '/') return "must be relative to the cache root";
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part.empty()) return "must not have empty components (\"//\" or a trailing \"/\")";
    if (part == "..") return "must not contain \"..\"";
    if (part == ".") return "must not contain \".\" components";
    start = end + 1;
  }
  return "";
}

Status OpenBeneath(const std::string& root, const std::string& rel, UniqueFd* out) {
  if (auto why = rel.empty() ? "" : CheckRelativePath(rel); !why.empty()) {
    return Status::Error(StatusCode::kInvalid, "policy path " + why, EINVAL, rel);
  }
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return PosixError("open cache root", root, errno);
  std::size_t start = 0;
  std::string done = root;
  while (start < rel.size()) {
    std::size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string part = rel.substr(start, end - start);
    done += "/" + part;
    UniqueFd next(OpenDirNoFollow(dir.get(), part.c_str()));
    if (!next.valid()) {
      int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        struct stat st;
        if (::fstatat(dir.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode)) {
          return Status::Error(StatusCode::kSymlink,
                               "refusing a policy path through a symlink: " + done, ELOOP, done);
        }
      }
      return PosixError("open", done, err);
    }
    dir = std::move(next);
    start = end + 1;
  }
  *out = std::move(dir);
  return Status::Ok();
}

int ForEachDirEntry(int dir_fd,
                    const std::function<void(const char* name, unsigned char type)>& on_entry,
                    const std::function<void()>& on_batch) {
  if (::lseek(dir_fd, 0, SEEK_SET) < 0) return errno;
  alignas(8) char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::getdents64(dir_fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return 0;
    for (ssize_t off = 0; off < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
      off += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      on_entry(name, d->d_type);
    }
    if (on_batch) on_batch();
  }
}

int ReadDirNames(int dir_fd, std::vector<DirName>* out) {
  out->clear();
  return ForEachDirEntry(dir_fd, [out](const char* name, unsigned char type) {
    out->push_back({name, type});
  });
}

int StatxNoFollow(int dir_fd, const char* name, struct statx* out) {
  int flags = AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC | (name[0] == '\0' ? AT_EMPTY_PATH : 0);
  if (::statx(dir_fd, name, flags, STATX_BASIC_STATS | STATX_MNT_ID, out) != 0) return errno;
  return 0;
}

std::size_t DirFdBudget::SizeFor(int threads) {
  struct rlimit rl {};
  rlim_t soft = 1024;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) soft = rl.rlim_cur;
  const long quarter = static_cast<long>(std::min<rlim_t>(soft / 4, 1 << 20));
  const long n = quarter - 2L * std::max(threads, 1);
  return static_cast<std::size_t>(std::clamp(n, 2L, 4096L));
}

DirFdBudget::~DirFdBudget() = default;

void DirFdBudget::Borrow(Dir* d, int fd) {
  std::lock_guard lock(mu_);
  d->fd = fd;
  d->borrowed = true;
}

void DirFdBudget::Hold(Dir* d, UniqueFd fd) {
  d->own = std::move(fd);
  d->fd = d->own.get();
  held_.push_front(d);
  d->held = held_.begin();
  peak_ = std::max(peak_, held_.size());
}

void DirFdBudget::Drop(Dir* d) {
  if (d->in_lru) {
    lru_.erase(d->lru);
    d->in_lru = false;
  }
  if (d->own.valid()) {
    d->own.Reset();
    held_.erase(d->held);
  }
  if (!d->borrowed) d->fd = -1;
}

void DirFdBudget::MakeEvictable(Dir* d) {
  if (d->borrowed || d->fd < 0 || d->pins > 0 || d->in_lru) return;
  lru_.push_front(d);
  d->lru = lru_.begin();
  d->in_lru = true;
}

void DirFdBudget::Evict() {
  while (held_.size() > max_held_ && !lru_.empty()) Drop(lru_.back());
}

int DirFdBudget::Adopt(Dir* d, UniqueFd fd) {
  std::lock_guard lock(mu_);
  Hold(d, std::move(fd));
  d->pins = 1;
  Evict();
  return d->fd;
}

int DirFdBudget::Reopen(int from_fd, const char* name, const Dir* want, UniqueFd* out) {
  if (before_reopen_) before_reopen_();
  constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  // O_NOATIME keeps a measuring walk from touching atimes; it needs ownership or CAP_FOWNER.
  UniqueFd fd(::openat(from_fd, name, kFlags | O_NOATIME));
  if (!fd.valid() && errno == EPERM) fd.Reset(::openat(from_fd, name, kFlags));
  if (!fd.valid()) return errno;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno;
  if (st.st_dev != want->dev || st.st_ino != want->ino) {
    moved_ = true;
    return ESTALE;
  }
  *out = std::move(fd);
  return 0;
}

int DirFdBudget::Pin(Dir* d, int* fd) {
  std::lock_guard lock(mu_);
  return PinLocked(d, fd);
}

int DirFdBudget::PinLocked(Dir* d, int* fd) {
  if (d->fd < 0 && !d->borrowed) {
    if (moved_) return ESTALE;
    // A child still open climbs back in one step (the held ones are at most the budget and the
    // pinned: a short scan, and only on a re-open).
    for (Dir* h : held_) {
      if (h->parent != d) continue;
      UniqueFd up;
      if (Reopen(h->fd, "..", d, &up) == 0) {
        Hold(d, std::move(up));
        break;
      }
      if (moved_) return ESTALE;
    }
  }
  if (d->fd < 0 && !d->borrowed) {
    // The released ones from `d` up to the nearest open ancestor, then down again by name.
    std::vector<Dir*> chain;
    Dir* top = d;
    while (top->fd < 0 && !top->borrowed) {
      if (top->parent == nullptr) return EBADF;
      chain.push_back(top);
      top = top->parent;
    }
    UniqueFd cur;
    int from = top->fd;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      UniqueFd next;
      if (int err = Reopen(from, (*it)->name.c_str(), *it, &next); err != 0) return err;
      cur = std::move(next);
      from = cur.get();
    }
    Hold(d, std::move(cur));
  }
  if (d->in_lru) {
    lru_.erase(d->lru);
    d->in_lru = false;
  }
  ++d->pins;
  *fd = d->fd;
  Evict();
  return 0;
}

void DirFdBudget::Unpin(Dir* d) {
  std::lock_guard lock(mu_);
  if (--d->pins == 0) MakeEvictable(d);
  Evict();
}

int DirFdBudget::Close(Dir* d, bool parent_needed, int* parent_fd) {
  std::lock_guard lock(mu_);
  Dir* p = d->parent;
  int err = 0;
  if (parent_needed && p != nullptr && p->fd < 0 && !p->borrowed && d->fd >= 0) {
    UniqueFd up;
    err = moved_ ? ESTALE : Reopen(d->fd, "..", p, &up);
    if (err == 0) {
      Hold(p, std::move(up));
      MakeEvictable(p);
    }
  }
  Drop(d);
  d->pins = 0;
  // Without an fd of its own to climb from, the parent is re-opened by name.
  if (err == 0 && parent_needed && p != nullptr && parent_fd != nullptr) {
    return PinLocked(p, parent_fd);
  }
  Evict();
  return err;
}

bool DirFdBudget::moved() const {
  std::lock_guard lock(mu_);
  return moved_;
}

std::size_t DirFdBudget::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

std::size_t DirFdBudget::peak_held() const {
  std::lock_guard lock(mu_);
  return peak_;
}

}  // namespace cachewarden
