#include "fs/read_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/unique_fd.h"

namespace cachewarden {
namespace {

Status ReadAll(int fd, const std::string& file, std::string* out, std::size_t max_bytes) {
  out->clear();
  char buf[16384];
  while (out->size() < max_bytes) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, max_bytes - out->size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("read", file, errno);
    }
    if (n == 0) break;
    out->append(buf, static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

// Without openat2: one component at a time, no symlink followed, no `..`.
int OpenNoEscape(int root_fd, std::string_view path, const std::string& shown, Status* error) {
  UniqueFd dir(::dup(root_fd));
  std::size_t at = 0;
  while (true) {
    while (at < path.size() && path[at] == '/') ++at;
    const std::size_t end = std::min(path.find('/', at), path.size());
    const std::string part(path.substr(at, end - at));
    if (part == "..") {
      *error = Status::Error(StatusCode::kInvalid,
                             "a .. component: not followed out of the process's root (no openat2)",
                             0, shown);
      return -1;
    }
    const bool last = path.find_first_not_of('/', end) == std::string_view::npos;
    const int flags =
        last ? O_RDONLY | O_NOFOLLOW | O_CLOEXEC : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd next(::openat(dir.get(), part.empty() ? "." : part.c_str(), flags));
    if (!next.valid()) {
      const int err = errno;
      struct stat link {};
      const bool is_link = (err == ELOOP || err == ENOTDIR) &&
                           ::fstatat(dir.get(), part.c_str(), &link, AT_SYMLINK_NOFOLLOW) == 0 &&
                           S_ISLNK(link.st_mode);
      *error = is_link ? Status::Error(StatusCode::kSymlink,
                                       "a symlink on the way: not followed inside the process's "
                                       "root on this kernel (no openat2)",
                                       err, shown)
                       : PosixError("open", shown, err);
      return -1;
    }
    if (last) return next.Release();
    dir = std::move(next);
    at = end;
  }
}

Status ReadInRoot(const std::string& root, std::string_view path, std::string* out,
                  std::size_t max_bytes, struct stat* st, bool try_openat2) {
  const std::string shown = root + std::string(path);
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return PosixError("open", root, errno);
  UniqueFd fd;
  int err = ENOSYS;
  if (try_openat2) {
    const std::string rel(path);
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    fd.Reset(
        static_cast<int>(::syscall(SYS_openat2, root_fd.get(), rel.c_str(), &how, sizeof how)));
    err = errno;
  }
  if (!fd.valid()) {
    // ENOSYS: before 5.6; EPERM: a seccomp profile older than openat2 (Docker's before 20.10).
    if (err != ENOSYS && err != EPERM) return PosixError("open", shown, err);
    Status error;
    fd.Reset(OpenNoEscape(root_fd.get(), path, shown, &error));
    if (!fd.valid()) return error;
  }
  if (st != nullptr && ::fstat(fd.get(), st) != 0) return PosixError("fstat", shown, errno);
  return ReadAll(fd.get(), shown, out, max_bytes);
}

}  // namespace

Status ReadSmallFileInRoot(const std::string& root, std::string_view path, std::string* out,
                           std::size_t max_bytes, struct stat* st) {
  return ReadInRoot(root, path, out, max_bytes, st, true);
}

Status ReadSmallFileInRootWithoutOpenat2(const std::string& root, std::string_view path,
                                         std::string* out, std::size_t max_bytes) {
  return ReadInRoot(root, path, out, max_bytes, nullptr, false);
}

Status ReadSmallFile(const std::string& file, std::string* out, std::size_t max_bytes) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return PosixError("open", file, errno);
  return ReadAll(fd.get(), file, out, max_bytes);
}

}  // namespace cachewarden
