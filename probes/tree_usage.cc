#include "probes/tree_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

namespace cachewarden {
namespace {

// Open directories at once; deeper trees are counted as incomplete rather
// than running out of file descriptors.
constexpr std::size_t kMaxDepth = 256;

SystemTime MtimeOf(const struct stat& st) {
  return SystemTime(std::chrono::seconds(st.st_mtim.tv_sec)) +
         std::chrono::duration_cast<SystemTime::duration>(
             std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

}  // namespace

Status MeasureTree(const std::string& path, std::uint64_t* budget,
                   const std::atomic<bool>* cancel, TreeUsage* out) {
  struct stat root {};
  if (::fstatat(AT_FDCWD, path.c_str(), &root, AT_SYMLINK_NOFOLLOW) != 0) {
    return PosixError("fstatat", path, errno);
  }
  *out = TreeUsage{};
  std::set<std::pair<dev_t, ino_t>> linked;
  auto count = [&](const struct stat& st) {
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) &&
        !linked.insert({st.st_dev, st.st_ino}).second) {
      return;
    }
    out->bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
    ++out->files;
    if (MtimeOf(st) > out->newest_mtime) out->newest_mtime = MtimeOf(st);
  };
  count(root);
  if (*budget > 0) --*budget;
  if (!S_ISDIR(root.st_mode)) return Status::Ok();
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    out->complete = false;
    return Status::Ok();
  }
  // An explicit stack of open directories; each DIR* owns its fd.
  std::vector<DIR*> stack;
  if (DIR* d = ::fdopendir(fd)) {
    stack.push_back(d);
  } else {
    ::close(fd);
    out->complete = false;
  }
  while (!stack.empty()) {
    if ((cancel != nullptr && cancel->load()) || *budget == 0) {
      out->complete = false;
      break;
    }
    DIR* dir = stack.back();
    errno = 0;
    struct dirent* ent = ::readdir(dir);
    if (ent == nullptr) {
      if (errno != 0) out->complete = false;
      ::closedir(dir);
      stack.pop_back();
      continue;
    }
    if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
    struct stat st {};
    int dfd = ::dirfd(dir);
    if (::fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      out->complete = false;
      continue;
    }
    --*budget;
    if (st.st_dev != root.st_dev) continue;  // a mount: not this filesystem's bytes
    count(st);
    if (!S_ISDIR(st.st_mode)) continue;
    if (stack.size() >= kMaxDepth) {
      out->complete = false;
      continue;
    }
    int child = ::openat(dfd, ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      out->complete = false;
      continue;
    }
    if (DIR* d = ::fdopendir(child)) {
      stack.push_back(d);
    } else {
      ::close(child);
      out->complete = false;
    }
  }
  for (DIR* d : stack) ::closedir(d);
  return Status::Ok();
}

}  // namespace cachewarden
