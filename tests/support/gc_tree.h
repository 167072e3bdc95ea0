#pragma once

// Helpers for the garbage-collection tests: build hostile trees and take a digest of everything
// that must survive a reap.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden::testing {

// relative path -> "mode size content-hash | link target", for every file under `root` (symlinks
// not followed), leaving out the subtrees in `skip` (absolute paths). Not nlink: deleting a hard
// link inside an entry rightly lowers the count of its twin outside.
inline std::map<std::string, std::string> TreeDigest(const std::string& root,
                                                     const std::set<std::string>& skip = {}) {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string p = it->path().string();
    if (skip.contains(p)) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    // A directory's size changes with its entries on tmpfs: leave it out.
    std::string d = std::to_string(st.st_mode) + " " +
                    (S_ISDIR(st.st_mode) ? std::string("dir") : std::to_string(st.st_size));
    if (S_ISREG(st.st_mode)) d += " " + std::to_string(std::hash<std::string>{}(ReadFile(p)));
    if (S_ISLNK(st.st_mode)) d += " -> " + fs::read_symlink(p).string();
    out[p.substr(root.size())] = d;
  }
  return out;
}

inline void MakeDirs(const std::string& p) { std::filesystem::create_directories(p); }
inline void Touch(const std::string& p, const std::string& content = "x") { WriteFile(p, content); }
// Sets mtime and atime of `p` (not following a symlink) to `seconds_ago`; throws if it cannot (an
// immutable file, say), so no test runs on a tree younger than it thinks.
inline void Age(const std::string& p, int seconds_ago) {
  struct timespec t[2];
  clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= seconds_ago;
  t[1] = t[0];
  if (::utimensat(AT_FDCWD, p.c_str(), t, AT_SYMLINK_NOFOLLOW) != 0) {
    throw std::runtime_error("cannot age " + p + ": " + std::strerror(errno));
  }
}
// Ages everything under `p`, `p` included. Lists the whole tree first: a directory read after its
// aging would get a new atime (relatime updates an atime older than the ctime).
inline void AgeTree(const std::string& p, int seconds_ago) {
  std::vector<std::string> paths = {p};
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    paths.push_back(it->path().string());
  }
  for (const auto& q : paths) Age(q, seconds_ago);
}
// Mounts a 16 MiB ext4 image under `tmp` (chattr +i needs a filesystem that supports it) with an
// immutable file dind/e/d/immutable holding `content`. Returns the mount point, or "" and why not
// in *why. Undo with chattr -i and UnmountUnder.
inline std::string Ext4WithImmutableFile(const std::string& tmp, const std::string& content,
                                         std::string* why) {
  const std::string fs = tmp + "/ext4";
  MakeDirs(fs);
  *why = MountExt4Loop(tmp + "/image", fs, 16);
  if (!why->empty()) return "";
  MakeDirs(fs + "/dind/e/d");
  Touch(fs + "/dind/e/d/immutable", content);
  if (RunProcess({"chattr", "+i", fs + "/dind/e/d/immutable"}).exit_code != 0) {
    *why = "chattr +i failed";
    return "";
  }
  return fs;
}
inline bool Exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace cachewarden::testing
