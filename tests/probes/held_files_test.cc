#include "probes/held_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "base/unique_fd.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::TempDir;

std::uint64_t DevOfPath(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.st_dev);
}

// Writes `bytes` to a new file under `dir`, removes its name and returns the fd still open on it.
UniqueFd HoldDeleted(const std::string& path, std::size_t bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(fd.valid());
  const std::string block(bytes, 'x');
  REQUIRE(::write(fd.get(), block.data(), block.size()) == static_cast<ssize_t>(block.size()));
  REQUIRE(::fsync(fd.get()) == 0);
  REQUIRE(::unlink(path.c_str()) == 0);
  return fd;
}

// A /proc that shows this process only (a link to its /proc/<pid>), so that other tests running
// beside this one, holding deleted files of their own, do not change the counts.
std::string OwnProc(const TempDir& tmp) {
  const std::string proc = tmp / "proc";
  REQUIRE(::mkdir(proc.c_str(), 0700) == 0);
  const std::string pid = std::to_string(::getpid());
  REQUIRE(::symlink(("/proc/" + pid).c_str(), (proc + "/" + pid).c_str()) == 0);
  return proc;
}

TEST_CASE(
    "deleted files held open on the cache's filesystem are counted once each, largest named with "
    "their holder",
    "[held_files]") {
  TempDir tmp;
  const std::uint64_t dev = DevOfPath(tmp.path());
  const std::string proc = OwnProc(tmp);
  const DeletedOpenFiles before = FindDeletedOpenFiles(proc, dev, 1000000);

  UniqueFd big = HoldDeleted(tmp / "big.log", 3 << 20);
  UniqueFd small = HoldDeleted(tmp / "small.log", 64 << 10);
  UniqueFd again(::dup(big.get()));  // the same file by a second fd: counted once
  // A file still named, and a deleted file with another name left: neither is hidden.
  const std::string named = tmp / "named";
  UniqueFd open_named(::open(named.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(::link(named.c_str(), (tmp / "other-name").c_str()) == 0);
  REQUIRE(::unlink(named.c_str()) == 0);

  const DeletedOpenFiles after = FindDeletedOpenFiles(proc, dev, 1000000);
  INFO("before: " << before.files << " files, " << before.bytes << " bytes");
  CHECK(after.files == before.files + 2);
  struct stat st_big {
  }, st_small{};
  REQUIRE(::fstat(big.get(), &st_big) == 0);
  REQUIRE(::fstat(small.get(), &st_small) == 0);
  const std::uint64_t held =
      static_cast<std::uint64_t>(st_big.st_blocks + st_small.st_blocks) * 512;
  CHECK(held >= (3u << 20) + (64u << 10));
  CHECK(after.bytes == before.bytes + held);
  CHECK(after.processes == 1);
  CHECK_FALSE(after.truncated);

  const HeldFile* mine = nullptr;
  for (const auto& f : after.largest) {
    if (f.path == tmp / "big.log") mine = &f;
  }
  REQUIRE(mine != nullptr);
  CHECK(mine->pid == ::getpid());
  CHECK(mine->bytes == static_cast<std::uint64_t>(st_big.st_blocks) * 512);
  CHECK_FALSE(mine->comm.empty());

  // Another device's deleted files are not the cache's.
  for (const auto& f : FindDeletedOpenFiles(proc, dev + 1, 1000000).largest) {
    CHECK(f.path.rfind(tmp.path(), 0) != 0);
  }
  // The whole /proc finds them too.
  CHECK(FindDeletedOpenFiles("/proc", dev, 1000000).bytes >= held);

  // Closing the last fd frees it.
  big.Reset();
  again.Reset();
  CHECK(FindDeletedOpenFiles(proc, dev, 1000000).files == before.files + 1);
}

TEST_CASE("the look for deleted open files stops at its fd bound and says so", "[held_files]") {
  TempDir tmp;
  UniqueFd held = HoldDeleted(tmp / "f", 10);
  UniqueFd held2 = HoldDeleted(tmp / "g", 10);
  const DeletedOpenFiles d = FindDeletedOpenFiles(OwnProc(tmp), DevOfPath(tmp.path()), 1);
  CHECK(d.truncated);
  CHECK(FindDeletedOpenFiles(tmp / "no-proc", 0, 10).processes == 0);
}

}  // namespace
}  // namespace cachewarden
