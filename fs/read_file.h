#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cachewarden {

// Reads a whole small file (bounded), for /proc files; errno-based Status.
Status ReadSmallFile(const std::string& file, std::string* out, std::size_t max_bytes);

// Reads `path` (absolute, as another process names it) inside `root` (that process's
// /proc/<pid>/root) as that process would see it: `..` and symlinks, absolute ones too, stay inside
// `root` (openat2 RESOLVE_IN_ROOT). On a kernel without openat2 (before 5.6) a `..` component or a
// symlink on the way is refused (kInvalid, kSymlink) instead of followed, since either could lead
// out of `root` into the agent's own filesystem. *st, when given, gets the file's fstat.
Status ReadSmallFileInRoot(const std::string& root, std::string_view path, std::string* out,
                           std::size_t max_bytes, struct stat* st = nullptr);

// The same as a kernel without openat2 reads it: for tests.
Status ReadSmallFileInRootWithoutOpenat2(const std::string& root, std::string_view path,
                                         std::string* out, std::size_t max_bytes);

}  // namespace cachewarden
