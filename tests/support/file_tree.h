#pragma once

#include <cstdint>
#include <string>

namespace cachewarden::testing {

// Small helpers to build real trees for walker and scan tests. Each aborts the test (Catch REQUIRE)
// on failure.

// Creates `path` (and missing parents) as a directory.
void MakeDirs(const std::string& path);
// Writes `bytes` bytes of data to a new file at `path`.
void MakeFile(const std::string& path, std::size_t bytes);
// A sparse file: `size` apparent bytes, nothing allocated.
void MakeSparseFile(const std::string& path, std::uint64_t size);
void MakeHardLink(const std::string& target, const std::string& link);
void MakeSymlink(const std::string& target, const std::string& link);
// Sets mtime and atime of `path` (not following symlinks), seconds since epoch.
void SetTimes(const std::string& path, std::int64_t atime, std::int64_t mtime);

// `du -sx -B1 path` (allocated) and `du -sxb path` (apparent), as numbers.
std::uint64_t DuAllocated(const std::string& path);
std::uint64_t DuApparent(const std::string& path);

}  // namespace cachewarden::testing

namespace cachewarden::testing {

// A directory for a big test tree under `parent`: as root (in the test's private mount namespace) a
// fresh tmpfs, fast to fill and gone with the unmount; otherwise a plain directory on the disk.
std::string FastScratchDir(const std::string& parent);

}  // namespace cachewarden::testing
