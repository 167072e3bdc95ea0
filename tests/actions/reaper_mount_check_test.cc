// The reaper's mount check where the kernel cannot say (Linux < 5.8: no STATX_MNT_ID, no
// STATX_ATTR_MOUNT_ROOT), emulated by ReapOptions::emulate_no_mount_id.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "actions/reaper.h"
#include "fs/dirfd.h"
#include "tests/support/gc_tree.h"
#include "tests/support/mounts.h"

namespace cachewarden {
namespace {

using namespace cachewarden::testing;

bool Bind(const std::string& from, const std::string& to) {
  return ::mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) == 0;
}

ReapOutcome Reap(int dir_fd, const std::string& name, const ReapOptions& o) {
  struct statx sx;
  REQUIRE(StatxNoFollow(dir_fd, name.c_str(), &sx) == 0);
  return ReapEntry(dir_fd, name, DevOf(sx), sx.stx_ino, o);
}

TEST_CASE("reaper never enters a bind mount of the same filesystem on a kernel without mount ids",
          "[gc][reaper][mount][guards]") {
  CW_REQUIRE_ROOT();
  TempDir tmp;
  const std::string dind = tmp / "root/dind", outside = tmp / "outside";
  MakeDirs(outside + "/d/sub");
  Touch(outside + "/d/precious", "precious");
  Touch(outside + "/d/sub/deep", "deep");
  const auto outside_before = TreeDigest(outside);
  UniqueFd dind_fd;
  for (bool unmount_stale : {false, true}) {
    INFO("unmount_stale " << unmount_stale);
    const std::string e = dind + "/e";
    MakeDirs(e + "/a/bound");
    Touch(e + "/a/file");
    // A bind mount of a directory outside the cache, on the same filesystem: same st_dev, so only
    // the mount id or mountinfo tells it apart.
    REQUIRE(Bind(outside + "/d", e + "/a/bound"));
    dind_fd.Reset(OpenDirNoFollow(AT_FDCWD, dind.c_str()));
    ReapOptions o;
    o.unmount_stale = unmount_stale;
    o.emulate_no_mount_id = true;
    ReapOutcome r = Reap(dind_fd.get(), "e", o);
    CHECK(TreeDigest(outside) == outside_before);
    if (unmount_stale) {
      CHECK(r.result == ReapResult::kDeleted);
      CHECK(r.unmounted == 1);
      CHECK_FALSE(Exists(e));
    } else {
      CHECK(r.result == ReapResult::kMount);
      CHECK(Exists(e + "/a/bound/precious"));
      UnmountUnder(e);
    }
  }
}

TEST_CASE("reaper refuses an entry that is itself a bind mount on a kernel without mount ids",
          "[gc][reaper][mount][guards]") {
  CW_REQUIRE_ROOT();
  TempDir tmp;
  const std::string dind = tmp / "root/dind", outside = tmp / "outside";
  MakeDirs(outside + "/d");
  Touch(outside + "/d/precious", "precious");
  MakeDirs(dind + "/e");
  REQUIRE(Bind(outside + "/d", dind + "/e"));
  UniqueFd dind_fd(OpenDirNoFollow(AT_FDCWD, dind.c_str()));
  ReapOptions o;
  o.unmount_stale = true;
  o.emulate_no_mount_id = true;
  ReapOutcome r = Reap(dind_fd.get(), "e", o);
  CHECK(r.result == ReapResult::kMount);
  CHECK(ReadFile(outside + "/d/precious") == "precious");
  UnmountUnder(dind + "/e");
}

}  // namespace
}  // namespace cachewarden
