#include "tests/support/file_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden::testing {
namespace {

std::uint64_t Du(const std::vector<std::string>& argv) {
  ProcessResult r = RunProcess(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return std::stoull(r.out);
}

}  // namespace

void MakeDirs(const std::string& path) { std::filesystem::create_directories(path); }

void MakeFile(const std::string& path, std::size_t bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  std::string chunk(std::min<std::size_t>(bytes, 1 << 16), 'x');
  for (std::size_t done = 0; done < bytes;) {
    std::size_t n = std::min(chunk.size(), bytes - done);
    ssize_t w = write(fd, chunk.data(), n);
    REQUIRE(w > 0);
    done += static_cast<std::size_t>(w);
  }
  close(fd);
}

void MakeSparseFile(const std::string& path, std::uint64_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, static_cast<off_t>(size)) == 0);
  close(fd);
}

void MakeHardLink(const std::string& target, const std::string& path) {
  REQUIRE(::link(target.c_str(), path.c_str()) == 0);
}

void MakeSymlink(const std::string& target, const std::string& path) {
  REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
}

void SetTimes(const std::string& path, std::int64_t atime, std::int64_t mtime) {
  struct timespec ts[2] = {{atime, 0}, {mtime, 0}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

std::uint64_t DuAllocated(const std::string& path) { return Du({"du", "-sx", "-B1", path}); }
std::uint64_t DuApparent(const std::string& path) { return Du({"du", "-sxb", path}); }

}  // namespace cachewarden::testing

namespace cachewarden::testing {

std::string FastScratchDir(const std::string& parent) {
  const std::string dir = parent + "/scratch";
  MakeDirs(dir);
  if (IsRoot() && InPrivateMountNamespace()) REQUIRE(MountTmpfs(dir, "2g") == "");
  return dir;
}

}  // namespace cachewarden::testing
