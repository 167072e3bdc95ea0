// GC's in-use guards (issue 14, findings 2 to 7): what another mount namespace sees, how the root
// is spelled, entries that are mount points, future times and hard links. Companion of
// gc_run_test.cc.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "actions/gc_run.h"
#include "fs/dirfd.h"
#include "probes/gc_entries.h"
#include "tests/support/gc_cache.h"
#include "tests/support/gc_tree.h"
#include "tests/support/mounts.h"

namespace cachewarden {
namespace {

using namespace cachewarden::testing;

constexpr int kDay = 86400;

std::uint64_t Inode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

const GcPlanItem* Item(const GcRunResult& r, const std::string& name) {
  for (const auto& i : r.plan.items) {
    if (i.entry.name == name) return &i;
  }
  return nullptr;
}

TEST_CASE("gc skips an entry another mount namespace sees at another path, as WITH DOCKER does",
          "[gc][run][mount][guards]") {
  CW_REQUIRE_ROOT();
  Cache c;
  const std::string e = c.Entry("build-docker", 2 * kDay);
  MakeDirs(e + "/tmp");
  const std::string docker = c.tmp / "var/lib/docker";
  MakeDirs(docker);
  int fd = -1;
  // dind/<id> bound at /var/lib/docker, the child's cwd and an open file in there, a tmpfs inside.
  ForeignNamespace ns([&] {
    if (::mount(e.c_str(), docker.c_str(), nullptr, MS_BIND, nullptr) != 0) return false;
    if (::chdir(docker.c_str()) != 0) return false;
    fd = ::open("sub/file", O_RDONLY);
    return fd >= 0 && ::mount("tmpfs", "tmp", "tmpfs", 0, "size=1m") == 0;
  });
  REQUIRE(ns.ok());
  // What the agent sees: the bind mount (by its root field and device) and the tmpfs inside it
  // (by its parent mount), although neither mount point is under the cache.
  std::map<std::string, EntryMounts> mounts;
  REQUIRE(MountsUnderEntries("/proc", {c.root + "/dind"}, &mounts, nullptr).ok());
  CHECK(mounts["build-docker"].elsewhere.find(docker) != std::string::npos);
  CHECK(mounts["build-docker"].foreign.find(docker + "/tmp") != std::string::npos);
  for (bool unmount_stale : {false, true}) {
    INFO("unmount_stale " << unmount_stale);
    GcPolicy p = Always();
    p.unmount_stale = unmount_stale;
    GcRunResult r = RunGcPolicy(p, nullptr, c.options);
    const GcPlanItem* i = Item(r, "build-docker");
    REQUIRE(i != nullptr);
    CHECK(i->decision == GcDecision::kSkip);
    CHECK(i->skip == SkipReason::kMountedElsewhere);
    CHECK(i->why.find(docker) != std::string::npos);
    CHECK(r.skipped[SkipReason::kMountedElsewhere] == 1);
    CHECK(r.plan.ToJson()["entries"][0]["skip_reason"] == "mounted_elsewhere");
    CHECK(Exists(e + "/sub/file"));
  }
}

TEST_CASE("gc finds a process's cwd and open files in an entry by identity, not by path",
          "[gc][run][guards]") {
  CW_REQUIRE_ROOT();
  Cache c;
  const std::string e = c.Entry("build-cwd", 2 * kDay);
  const std::string f = c.Entry("build-fd", 2 * kDay);
  c.Entry("idle", 2 * kDay);
  const std::string view = c.tmp / "view";
  MakeDirs(view + "/cwd");
  MakeDirs(view + "/fd");
  // The child binds each entry elsewhere, takes its cwd in one and opens a file in the other
  // through that path, then detaches the first bind: no mount shows that entry any more, and no
  // path names either entry.
  ForeignNamespace ns([&] {
    const std::string vc = view + "/cwd", vf = view + "/fd";
    if (::mount(e.c_str(), vc.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(f.c_str(), vf.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return false;
    }
    if (::chdir((vc + "/sub").c_str()) != 0) return false;
    if (::open((vf + "/sub/file").c_str(), O_RDONLY) < 0) return false;
    return ::umount2(vc.c_str(), MNT_DETACH) == 0;
  });
  REQUIRE(ns.ok());
  struct statx sx;
  REQUIRE(StatxNoFollow(AT_FDCWD, e.c_str(), &sx) == 0);
  const EntryIds ids = {{{DevOf(sx), sx.stx_ino}, "build-cwd"},
                        {{DevOf(sx), Inode(f)}, "build-fd"},
                        {{DevOf(sx), Inode(c.root + "/dind/idle")}, "idle"}};
  CHECK(EntriesHeldOpen("/proc", c.root + "/dind", ids, DevOf(sx)) ==
        std::set<std::string>{"build-cwd", "build-fd"});
  GcPolicy p = Always();
  p.skip_open = true;
  GcRunResult r = RunGcPolicy(p, nullptr, c.options);
  const GcPlanItem* i = Item(r, "build-cwd");
  REQUIRE(i != nullptr);
  CHECK(i->skip == SkipReason::kOpen);
  i = Item(r, "build-fd");
  REQUIRE(i != nullptr);
  CHECK(i->skip == SkipReason::kMountedElsewhere);  // the first guard that holds
  CHECK_FALSE(Exists(c.root + "/dind/idle"));
  CHECK(Exists(e + "/sub/file"));
  CHECK(Exists(f + "/sub/file"));
}

TEST_CASE("gc sees a mount inside an entry of a namespace that sees the whole cache elsewhere",
          "[gc][run][mount][guards]") {
  CW_REQUIRE_ROOT();
  Cache c;
  const std::string e = c.Entry("build-merged", 2 * kDay);
  MakeDirs(e + "/merged");
  const std::string cache_view = c.tmp / "cache";
  MakeDirs(cache_view);
  ForeignNamespace ns([&] {
    const std::string merged = cache_view + "/dind/build-merged/merged";
    return ::mount(c.root.c_str(), cache_view.c_str(), nullptr, MS_BIND, nullptr) == 0 &&
           ::mount("tmpfs", merged.c_str(), "tmpfs", 0, "size=1m") == 0;
  });
  REQUIRE(ns.ok());
  GcPolicy p = Always();
  p.unmount_stale = true;
  GcRunResult r = RunGcPolicy(p, nullptr, c.options);
  const GcPlanItem* i = Item(r, "build-merged");
  REQUIRE(i != nullptr);
  CHECK(i->skip == SkipReason::kMount);
  CHECK(i->why.find("another mount namespace") != std::string::npos);
  CHECK(Exists(e + "/merged"));
  const std::string child_mounts = "/proc/" + std::to_string(ns.pid()) + "/mountinfo";
  CHECK(ReadFile(child_mounts).find(cache_view + "/dind/build-merged/merged") != std::string::npos);
}

TEST_CASE("gc's mount and open guards hold whatever the spelling of the root, / included",
          "[gc][run][mount][guards]") {
  CW_REQUIRE_ROOT();
  Cache c;
  struct Spelling {
    std::string root, path;
  };
  const std::vector<Spelling> spellings = {
      {c.root + "/", "dind"},
      {c.root + "//", "dind"},
      {"/", c.root.substr(1) + "/dind"},
      {"//", c.root.substr(1) + "/dind"},
  };
  for (const Spelling& s : spellings) {
    INFO("root " << s.root << " path " << s.path);
    const std::string m = c.Entry("build-mounted", 2 * kDay);
    const std::string o = c.Entry("build-open", 2 * kDay);
    MakeDirs(m + "/merged");
    ForeignNamespace ns(
        [&] { return ::mount("tmpfs", (m + "/merged").c_str(), "tmpfs", 0, "size=1m") == 0; });
    REQUIRE(ns.ok());
    int fd = ::open((o + "/sub/file").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    GcPolicy p = Always(s.path);
    p.unmount_stale = true;
    p.skip_open = true;
    c.options.root = s.root;
    GcRunResult r = RunGcPolicy(p, nullptr, c.options);
    ::close(fd);
    const GcPlanItem* mi = Item(r, "build-mounted");
    const GcPlanItem* oi = Item(r, "build-open");
    REQUIRE(mi != nullptr);
    REQUIRE(oi != nullptr);
    CHECK(mi->skip == SkipReason::kMount);
    CHECK(oi->skip == SkipReason::kOpen);
    const std::string child_mounts = "/proc/" + std::to_string(ns.pid()) + "/mountinfo";
    CHECK(ReadFile(child_mounts).find(m + "/merged") != std::string::npos);
    CHECK(Exists(o + "/sub/file"));
  }
}

TEST_CASE("gc: an entry that is a mount point is in use, or a stale mount judged again beneath",
          "[gc][run][mount][guards]") {
  CW_REQUIRE_ROOT();
  Cache c;
  const std::string e = c.root + "/dind/build-mnt";
  // What is beneath: `young` is fresh unless the case says otherwise.
  auto setup = [&](int beneath_age) {
    MakeDirs(e);
    Touch(e + "/beneath", "beneath");
    AgeTree(e, beneath_age);
    REQUIRE(MountTmpfs(e, "4m") == "");
    Touch(e + "/on-tmpfs", "on tmpfs");
    AgeTree(e, 3 * kDay);  // what the mount shows is 3 days old
  };
  GcPolicy p = Always();
  p.min_age = std::chrono::hours(6);

  SECTION("in use as a mount: skipped with its own reason and a real age") {
    setup(3 * kDay);
    GcRunResult r = RunGcPolicy(p, nullptr, c.options);
    const GcPlanItem* i = Item(r, "build-mnt");
    REQUIRE(i != nullptr);
    CHECK(i->skip == SkipReason::kMountPoint);
    CHECK(i->age > std::chrono::hours(71));
    CHECK(i->age < std::chrono::hours(73));  // not the epoch ("20788d")
    CHECK(r.skipped[SkipReason::kMountPoint] == 1);
    CHECK(Exists(e + "/on-tmpfs"));
  }
  SECTION("stale, but young beneath: detached, measured again, kept") {
    setup(600);
    p.unmount_stale = true;
    GcRunResult r = RunGcPolicy(p, nullptr, c.options);
    const GcPlanItem* i = Item(r, "build-mnt");
    REQUIRE(i != nullptr);
    CHECK(i->decision == GcDecision::kDelete);
    CHECK(i->entry.bytes == 0);  // what is beneath is not known until detached
    REQUIRE(r.done.size() == 1);
    CHECK(r.done[0].reap.result == ReapResult::kChanged);
    CHECK(r.done[0].reap.unmounted == 1);
    CHECK(ReadFile(e + "/beneath") == "beneath");
    CHECK(ReadFile("/proc/self/mountinfo").find(e) == std::string::npos);
  }
  SECTION("stale and old beneath: detached, then deleted") {
    setup(3 * kDay);
    p.unmount_stale = true;
    GcRunResult r = RunGcPolicy(p, nullptr, c.options);
    REQUIRE(r.done.size() == 1);
    CHECK(r.done[0].reap.result == ReapResult::kDeleted);
    CHECK(r.done[0].reap.unmounted == 1);
    CHECK(r.done[0].freed > 0);
    CHECK_FALSE(Exists(e));
  }
  UnmountUnder(e);
}

TEST_CASE("gc counts as freed only files whose every hard link is inside the entry",
          "[gc][run][guards]") {
  Cache c;
  const std::string e = c.Entry("build-links", 2 * kDay);
  Touch(c.outside + "/big", std::string(1 << 20, 'b'));
  REQUIRE(::link((c.outside + "/big").c_str(), (e + "/sub/big").c_str()) == 0);
  // Two links, both inside: freed.
  Touch(e + "/sub/twin", std::string(1 << 18, 't'));
  REQUIRE(::link((e + "/sub/twin").c_str(), (e + "/twin2").c_str()) == 0);
  AgeTree(e, 2 * kDay);
  c.options.dry_run = true;
  GcRunResult dry = RunGcPolicy(Always(), nullptr, c.options);
  const GcPlanItem* i = Item(dry, "build-links");
  REQUIRE(i != nullptr);
  CHECK(i->entry.shared_bytes >= (1u << 20));
  CHECK(i->entry.shared_bytes < (1u << 20) + 8192);
  CHECK(dry.plan.planned_bytes == i->entry.bytes - i->entry.shared_bytes);
  CHECK(dry.plan.planned_bytes >= (1u << 18));
  CHECK(dry.plan.ToJson()["planned_shared_bytes"] == i->entry.shared_bytes);
  CHECK(dry.plan.ToJson()["entries"][0]["shared_bytes"] == i->entry.shared_bytes);
  c.options.dry_run = false;
  GcRunResult r = RunGcPolicy(Always(), nullptr, c.options);
  REQUIRE(r.done.size() == 1);
  CHECK(r.done[0].reap.result == ReapResult::kDeleted);
  CHECK(r.freed_bytes == dry.plan.planned_bytes);
  CHECK(ReadFile(c.outside + "/big") == std::string(1 << 20, 'b'));
}

}  // namespace
}  // namespace cachewarden
