#include "fs/dirfd.h"

#include <dirent.h>
#include <fcntl.h>
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

}  // namespace cachewarden
