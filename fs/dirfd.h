#pragma once

#include <sys/stat.h>

#include <cstdint>
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
// so that a symlink anywhere in `rel` is refused (reason "symlink") instead of followed.
Status OpenBeneath(const std::string& root, const std::string& rel, UniqueFd* out);

struct DirName {
  std::string name;
  unsigned char type;  // DT_* from getdents; DT_UNKNOWN on some filesystems
};
// Every name in the directory `dir_fd` but "." and "..", read with getdents64 from the start (the
// fd's offset is rewound). Returns 0 or an errno.
int ReadDirNames(int dir_fd, std::vector<DirName>* out);

// statx(dir_fd, name, AT_SYMLINK_NOFOLLOW) with the basic fields and the mount id; name "" stats
// dir_fd itself. Returns 0 or an errno.
int StatxNoFollow(int dir_fd, const char* name, struct statx* out);

inline std::uint64_t DevOf(const struct statx& s) {
  return (static_cast<std::uint64_t>(s.stx_dev_major) << 32) | s.stx_dev_minor;
}

// Names in the directory `fd` (`path` for errors), sorted, without "." and "..". Reads from the
// start through a duplicate of `fd`, which stays open.
Status ListNames(int fd, const std::string& path, std::vector<std::string>* names);

}  // namespace cachewarden
