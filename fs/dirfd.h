#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
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

}  // namespace cachewarden
