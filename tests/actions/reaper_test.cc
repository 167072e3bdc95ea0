#include "actions/reaper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <thread>

#include "fs/dirfd.h"
#include "tests/support/deep_tree.h"
#include "tests/support/gc_tree.h"
#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using namespace cachewarden::testing;

// A cache root with a policy directory `dind` and, beside the root, an `outside` tree that no reap
// may change.
struct Fixture {
  TempDir tmp;
  std::string root = tmp / "root";
  std::string dind = root + "/dind";
  std::string outside = tmp / "outside";
  UniqueFd dind_fd;

  // `tmpfs`: when root, the cache root is a tmpfs (ext4 on this VM takes ~35 s for rm -rf of a
  // 10,000-level chain; the reaper as long).
  explicit Fixture(bool tmpfs = false) {
    MakeDirs(root);
    if (tmpfs && IsRoot() && InPrivateMountNamespace()) MountTmpfs(root, "64m");
    MakeDirs(dind);
    MakeDirs(outside + "/dir/sub");
    for (int i = 0; i < 5; ++i)
      Touch(outside + "/f" + std::to_string(i), "outside " + std::to_string(i));
    Touch(outside + "/dir/sub/deep", "deep");
    Open();
  }
  void Open() { dind_fd.Reset(OpenDirNoFollow(AT_FDCWD, dind.c_str())); }

  ReapOutcome Reap(const std::string& name, ReapOptions o = {}) {
    struct stat st;
    REQUIRE(::fstatat(dind_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0);
    struct statx sx;
    REQUIRE(StatxNoFollow(dind_fd.get(), name.c_str(), &sx) == 0);
    return ReapEntry(dind_fd.get(), name, DevOf(sx), sx.stx_ino, o);
  }
  // Everything but the entries named.
  std::map<std::string, std::string> Digest(const std::set<std::string>& entries) {
    std::set<std::string> skip;
    for (const auto& e : entries) skip.insert(dind + "/" + e);
    return TreeDigest(tmp.path(), skip);
  }
};

TEST_CASE("reaper unlinks symlinks inside entries and never their targets", "[gc][reaper]") {
  Fixture f;
  std::string e = f.dind + "/e";
  MakeDirs(e + "/a/b");
  Touch(e + "/a/b/file");
  std::filesystem::create_symlink(f.outside + "/f0", e + "/link-file");
  std::filesystem::create_directory_symlink(f.outside + "/dir", e + "/link-dir");
  std::filesystem::create_directory_symlink(f.outside, e + "/a/b/link-up");
  std::filesystem::create_directory_symlink("/", e + "/a/link-root");
  auto before = f.Digest({"e"});
  ReapOutcome r = f.Reap("e");
  CHECK(r.result == ReapResult::kDeleted);
  CHECK(r.errors == 0);
  CHECK(r.removed == 8);
  CHECK_FALSE(Exists(e));
  CHECK(f.Digest({"e"}) == before);
}

TEST_CASE("reaper leaves a hard-linked outside file and its content", "[gc][reaper]") {
  Fixture f;
  MakeDirs(f.dind + "/e");
  REQUIRE(::link((f.outside + "/f1").c_str(), (f.dind + "/e/hard").c_str()) == 0);
  auto before = f.Digest({"e"});
  CHECK(f.Reap("e").result == ReapResult::kDeleted);
  CHECK(ReadFile(f.outside + "/f1") == "outside 1");
  CHECK(f.Digest({"e"}) == before);
  struct stat st {};
  REQUIRE(::stat((f.outside + "/f1").c_str(), &st) == 0);
  CHECK(st.st_nlink == 1);  // only the link inside the entry went
}

TEST_CASE("reaper deletes names with newlines, spaces, dashes and invalid UTF-8", "[gc][reaper]") {
  Fixture f;
  std::vector<std::string> names = {
      "new\nline", " spaced name ", "-rf", "--help", std::string("bad\xff\xfe utf8"), "*", "\\",
      "..."};
  for (const auto& n : names) {
    MakeDirs(f.dind + "/" + n + "/" + n);
    Touch(f.dind + "/" + n + "/" + n + "/" + n);
  }
  auto before = f.Digest(std::set<std::string>(names.begin(), names.end()));
  for (const auto& n : names) {
    INFO(n);
    CHECK(f.Reap(n).result == ReapResult::kDeleted);
    CHECK_FALSE(Exists(f.dind + "/" + n));
  }
  CHECK(f.Digest(std::set<std::string>(names.begin(), names.end())) == before);
}

TEST_CASE("reaper deletes a 10000-level-deep entry", "[gc][reaper]") {
  Fixture f(/*tmpfs=*/true);
  MakeDirs(f.dind + "/deep");
  UniqueFd dir(OpenDirNoFollow(f.dind_fd.get(), "deep"));
  for (int i = 0; i < 10000; ++i) {
    REQUIRE(::mkdirat(dir.get(), "d", 0755) == 0);
    dir.Reset(OpenDirNoFollow(dir.get(), "d"));
    REQUIRE(dir.valid());
  }
  int fd = ::openat(dir.get(), "leaf", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ::close(fd);
  dir.Reset();
  auto before = f.Digest({"deep"});
  ReapOptions o;
  o.threads = 4;
  ReapOutcome r = f.Reap("deep", o);
  CHECK(r.result == ReapResult::kDeleted);
  CHECK(r.removed == 10002);
  CHECK_FALSE(Exists(f.dind + "/deep"));
  CHECK(f.Digest({"deep"}) == before);
}

TEST_CASE("reaper deletes a tree 3,000 deep at 64 fds", "[gc][reaper][fds]") {
  Fixture f(/*tmpfs=*/true);
  DeepEntry(f.dind, "deep", 3000, 3 * 86400, /*fresh_file=*/false);
  auto before = f.Digest({"deep"});
  for (int threads : {1, 2}) {
    if (threads == 2) DeepEntry(f.dind, "deep", 3000, 3 * 86400, /*fresh_file=*/false);
    std::string got = InChildWithNofile(64, [&] {
      ReapOptions o;
      o.threads = threads;
      ReapOutcome r = f.Reap("deep", o);
      std::string out = std::string(ToString(r.result)) + " removed " + std::to_string(r.removed);
      for (const auto& e : r.first_errors) out += " " + e.what + ":" + std::strerror(e.error);
      return out;
    });
    INFO(threads << " threads: " << got);
    CHECK(got == "deleted removed 12001");  // the entry and 4 directories a level
    CHECK_FALSE(Exists(f.dind + "/deep"));
    CHECK(f.Digest({"deep"}) == before);
  }
}

TEST_CASE("reaper stops, deleting nothing elsewhere, when a directory it left moved",
          "[gc][reaper][fds]") {
  Fixture f;
  DeepEntry(f.dind, "e", 40, 3 * 86400, /*fresh_file=*/false);
  ReapOptions o;
  o.threads = 1;
  o.max_held_fds = 2;
  bool moved = false;
  int reopens = 0;
  // At the tenth re-open (some levels deep), the entry's upper part moves outside: climbing back
  // through "..", the reaper finds outside/ where e/ was, and must not remove n from there.
  o.before_reopen = [&] {
    if (++reopens == 10) {
      moved = ::rename((f.dind + "/e/n").c_str(), (f.outside + "/n").c_str()) == 0;
    }
  };
  auto before = TreeDigest(f.tmp.path(), {f.dind + "/e", f.outside + "/n"});
  ReapOutcome r = f.Reap("e", o);
  REQUIRE(moved);
  CHECK(r.result == ReapResult::kError);
  bool said_moved = false;
  for (const auto& e : r.first_errors)
    said_moved = said_moved || (e.what == "moved" && e.error == ESTALE);
  CHECK(said_moved);
  CHECK(Exists(f.outside + "/n"));  // not removed from where it went
  CHECK(Exists(f.dind + "/e"));
  CHECK(TreeDigest(f.tmp.path(), {f.dind + "/e", f.outside + "/n"}) == before);
}

TEST_CASE("reaper skips an entry replaced since it was planned", "[gc][reaper]") {
  Fixture f;
  MakeDirs(f.dind + "/e");
  Touch(f.dind + "/e/x");
  struct statx sx;
  REQUIRE(StatxNoFollow(f.dind_fd.get(), "e", &sx) == 0);
  std::filesystem::rename(f.dind + "/e", f.dind + "/moved");
  SECTION("by a symlink to outside") {
    std::filesystem::create_directory_symlink(f.outside, f.dind + "/e");
  }
  SECTION("by another directory") { MakeDirs(f.dind + "/e/other"); }
  auto before = f.Digest({});
  ReapOutcome r = ReapEntry(f.dind_fd.get(), "e", DevOf(sx), sx.stx_ino, {});
  CHECK(r.result == ReapResult::kChanged);
  CHECK(f.Digest({}) == before);
  std::filesystem::remove(f.dind + "/moved/x");
  CHECK(ReapEntry(f.dind_fd.get(), "gone", DevOf(sx), sx.stx_ino, {}).result ==
        ReapResult::kVanished);
}

TEST_CASE("reaper survives entries vanishing and changing while it runs", "[gc][reaper]") {
  Fixture f;
  for (int e = 0; e < 20; ++e) {
    std::string entry = f.dind + "/e" + std::to_string(e);
    for (int d = 0; d < 20; ++d) {
      MakeDirs(entry + "/d" + std::to_string(d));
      for (int i = 0; i < 20; ++i)
        Touch(entry + "/d" + std::to_string(d) + "/" + std::to_string(i));
    }
  }
  std::atomic<bool> stop{false};
  std::thread vandal([&] {
    std::error_code ec;
    while (!stop) {
      for (int e = 0; e < 20 && !stop; ++e) {
        std::filesystem::remove_all(f.dind + "/e" + std::to_string(e) + "/d7", ec);
      }
    }
  });
  std::set<std::string> names;
  for (int e = 0; e < 20; ++e) names.insert("e" + std::to_string(e));
  auto before = f.Digest(names);
  for (const auto& n : names) {
    ReapOutcome r = f.Reap(n);
    INFO(n << " " << (r.first_errors.empty() ? "" : r.first_errors[0].path));
    CHECK(r.result == ReapResult::kDeleted);
  }
  stop = true;
  vandal.join();
  CHECK(f.Digest(names) == before);
}

TEST_CASE("reaper never follows a directory swapped for a symlink mid-run", "[gc][reaper][race]") {
  // CVE-2018-6954: an attacker inside the entry swaps a directory for a symlink to outside while
  // the reaper works on it, thousands of times.
  Fixture f;
  for (int i = 0; i < 10; ++i) Touch(f.outside + "/dir/n" + std::to_string(i), "keep");
  auto before = f.Digest({});
  // Swaps done while a reap ran: the proof that the race was on. No lower bound beyond one: a slow
  // or loaded machine swaps less.
  std::uint64_t swaps = 0;
  int rounds = 0;
  for (int round = 0; round < 400 && swaps < 2000; ++round) {
    rounds = round + 1;
    std::string name = "e" + std::to_string(round);
    std::string e = f.dind + "/" + name;
    MakeDirs(e + "/sub/d");
    for (int i = 0; i < 10; ++i) {
      Touch(e + "/sub/n" + std::to_string(i));
      Touch(e + "/sub/d/n" + std::to_string(i));
    }
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> done{0};
    std::thread swapper([&] {
      std::string sub = e + "/sub", aside = e + "/aside", target = f.outside + "/dir";
      while (!stop) {
        if (::rename(sub.c_str(), aside.c_str()) != 0) continue;
        ::symlink(target.c_str(), sub.c_str());
        ::unlink(sub.c_str());
        ::rename(aside.c_str(), sub.c_str());
        done++;
      }
    });
    while (done < 3) std::this_thread::yield();  // the race is on before the reap starts
    ReapOptions o;
    o.threads = 2;
    const std::uint64_t at_start = done;
    f.Reap(name, o);  // any result; what matters is the outside tree
    swaps += done - at_start;
    stop = true;
    swapper.join();
    std::error_code ec;
    std::filesystem::remove(e + "/sub", ec);  // a leftover symlink, if any
  }
  INFO("swaps during reaps " << swaps << " in " << rounds << " rounds");
  CHECK(swaps > 0);
  std::set<std::string> entries;
  for (int round = 0; round < rounds; ++round) entries.insert("e" + std::to_string(round));
  CHECK(f.Digest(entries) == before);
  CHECK(ReadFile(f.outside + "/dir/n3") == "keep");
}

TEST_CASE("reaper never follows an entry swapped for a symlink after selection",
          "[gc][reaper][race]") {
  // The entry itself swapped for a symlink to outside, in a tight loop, between selection (its
  // dev/ino taken) and deletion: every time, either the original directory is deleted or the entry
  // is skipped as changed.
  Fixture f;
  for (int i = 0; i < 10; ++i) Touch(f.outside + "/dir/n" + std::to_string(i), "keep");
  auto before = f.Digest({});
  std::uint64_t swaps = 0;  // done while a reap ran
  int changed = 0;
  for (int round = 0; round < 300; ++round) {
    std::string name = "s" + std::to_string(round);
    std::string e = f.dind + "/" + name, aside = f.dind + "/aside-" + name;
    MakeDirs(e + "/d");
    for (int i = 0; i < 5; ++i) Touch(e + "/d/n" + std::to_string(i));
    struct statx sx;
    REQUIRE(StatxNoFollow(f.dind_fd.get(), name.c_str(), &sx) == 0);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> done{0};
    std::thread swapper([&] {
      std::string target = f.outside + "/dir";
      while (!stop) {
        if (::rename(e.c_str(), aside.c_str()) != 0) break;  // deleted: nothing to swap
        ::symlink(target.c_str(), e.c_str());
        done++;
        ::unlink(e.c_str());
        ::rename(aside.c_str(), e.c_str());
      }
    });
    while (done < 2) std::this_thread::yield();
    const std::uint64_t at_start = done;
    ReapOutcome r = ReapEntry(f.dind_fd.get(), name, DevOf(sx), sx.stx_ino, {});
    swaps += done - at_start;
    stop = true;
    swapper.join();
    if (r.result == ReapResult::kChanged) changed++;
    std::error_code ec;
    if (std::filesystem::is_symlink(e, ec)) std::filesystem::remove(e, ec);
    std::filesystem::remove_all(aside, ec);
    std::filesystem::remove_all(e, ec);
  }
  INFO("swaps during reaps " << swaps << ", skipped as changed " << changed);
  // The race was run: swaps landed while a reap ran, or the reaper found the entry swapped (a
  // slow start, reading mountinfo under load, makes the second the common case).
  CHECK(swaps + static_cast<std::uint64_t>(changed) > 0);
  CHECK(f.Digest({}) == before);
  CHECK(ReadFile(f.outside + "/dir/n3") == "keep");
}

TEST_CASE("reaper does not enter a tmpfs inside an entry", "[gc][reaper][mount]") {
  CW_REQUIRE_ROOT();
  Fixture f;
  MakeDirs(f.dind + "/e/m");
  Touch(f.dind + "/e/plain");
  REQUIRE(MountTmpfs(f.dind + "/e/m", "4m") == "");
  Touch(f.dind + "/e/m/inside", "tmpfs content");
  auto before = f.Digest({"e"});
  ReapOutcome r = f.Reap("e");
  CHECK(r.result == ReapResult::kMount);
  CHECK(ReadFile(f.dind + "/e/m/inside") == "tmpfs content");
  CHECK(f.Digest({"e"}) == before);
  UnmountUnder(f.dind + "/e");
}

TEST_CASE("reaper with unmount_stale detaches a tmpfs, then deletes the entry, not a mounted one",
          "[gc][reaper][mount]") {
  CW_REQUIRE_ROOT();
  Fixture f;
  MakeDirs(f.dind + "/e/a/m");
  REQUIRE(MountTmpfs(f.dind + "/e/a/m", "4m") == "");
  Touch(f.dind + "/e/a/m/inside");
  MakeDirs(f.dind + "/e/a/m/nested");
  REQUIRE(MountTmpfs(f.dind + "/e/a/m/nested", "4m") == "");
  MakeDirs(f.dind + "/mnt-root");
  REQUIRE(MountTmpfs(f.dind + "/mnt-root", "4m") == "");  // the entry itself a mount point
  auto before = f.Digest({"e", "mnt-root"});
  ReapOptions o;
  o.unmount_stale = true;
  ReapOutcome r = f.Reap("e", o);
  CHECK(r.result == ReapResult::kDeleted);
  CHECK(r.unmounted >= 1);
  // An entry that is itself a mount point is never emptied by the reaper, even with
  // unmount_stale: what is beneath was never measured (GC detaches it and measures first).
  Touch(f.dind + "/mnt-root/on-tmpfs");
  r = f.Reap("mnt-root", o);
  CHECK(r.result == ReapResult::kMount);
  CHECK(r.unmounted == 0);
  CHECK(Exists(f.dind + "/mnt-root/on-tmpfs"));
  CHECK_FALSE(Exists(f.dind + "/e"));
  CHECK(ReadFile("/proc/self/mountinfo").find(f.dind + "/e") == std::string::npos);
  CHECK(f.Digest({"e", "mnt-root"}) == before);
  UnmountUnder(f.dind + "/mnt-root");
}

TEST_CASE("reaper counts EPERM on an immutable file and goes on", "[gc][reaper][mount]") {
  CW_REQUIRE_ROOT();
  Fixture f;
  std::string why;
  const std::string fs = Ext4WithImmutableFile(f.tmp.path(), "x", &why);
  REQUIRE(why == "");
  Touch(fs + "/dind/e/other");
  MakeDirs(fs + "/dind/e2/x");
  Touch(fs + "/kept", "beside dind");
  auto before = TreeDigest(f.tmp.path(), {fs + "/dind/e", fs + "/dind/e2"});
  UniqueFd dind(OpenDirNoFollow(AT_FDCWD, (fs + "/dind").c_str()));
  auto reap = [&](const char* name) {
    struct statx sx;
    REQUIRE(StatxNoFollow(dind.get(), name, &sx) == 0);
    return ReapEntry(dind.get(), name, DevOf(sx), sx.stx_ino, {});
  };
  ReapOutcome r = reap("e");
  CHECK(r.result == ReapResult::kError);
  CHECK(r.errors == 1);
  REQUIRE_FALSE(r.first_errors.empty());
  CHECK(r.first_errors[0].error == EPERM);
  CHECK(r.first_errors[0].path == "e/d/immutable");
  CHECK_FALSE(Exists(fs + "/dind/e/other"));  // the rest of the entry went
  CHECK(reap("e2").result == ReapResult::kDeleted);
  CHECK(TreeDigest(f.tmp.path(), {fs + "/dind/e", fs + "/dind/e2"}) == before);
  RunProcess({"chattr", "-i", fs + "/dind/e/d/immutable"});
  dind.Reset();
  UnmountUnder(fs);
}

TEST_CASE("reaper stops when cancelled and honours max_delete_rate", "[gc][reaper]") {
  Fixture f;
  MakeDirs(f.dind + "/e");
  for (int i = 0; i < 50; ++i) Touch(f.dind + "/e/" + std::to_string(i));
  std::atomic<bool> cancel{true};
  ReapOptions o;
  o.cancel = &cancel;
  CHECK(f.Reap("e", o).result == ReapResult::kCancelled);
  CHECK(Exists(f.dind + "/e"));
  cancel = false;
  o.max_delete_rate = 200;
  auto start = std::chrono::steady_clock::now();
  CHECK(f.Reap("e", o).result == ReapResult::kDeleted);
  // 51 operations at 200/s take at least ~250 ms.
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(200));
}

TEST_CASE("reaper unlinks nothing more once cancelled while throttled", "[gc][reaper]") {
  Fixture f;
  MakeDirs(f.dind + "/e");
  for (int i = 0; i < 10; ++i) Touch(f.dind + "/e/" + std::to_string(i));
  auto left = [&] {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& d : std::filesystem::directory_iterator(f.dind + "/e")) ++n;
    return n;
  };
  std::atomic<bool> cancel{false};
  ReapOptions o;
  o.threads = 1;
  o.cancel = &cancel;
  // The first unlink at once, the next an hour later: the test has all the time it needs to
  // cancel during the wait, and the reap ends only if the cancel wakes the throttle.
  o.max_delete_rate = 1.0 / 3600;
  struct statx sx;
  REQUIRE(StatxNoFollow(f.dind_fd.get(), "e", &sx) == 0);
  ReapOutcome r;  // no Catch2 assertion on the other thread
  std::thread reaper([&] { r = ReapEntry(f.dind_fd.get(), "e", DevOf(sx), sx.stx_ino, o); });
  CHECK(WaitUntil([&] { return left() == 9; }));
  cancel = true;  // while it waits for the second slot
  reaper.join();
  CHECK(r.result == ReapResult::kCancelled);
  CHECK(left() == 9);
}

}  // namespace
}  // namespace cachewarden
