#include "probes/dind.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "probes/scan.h"
#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// A context for `root` whose previous snapshot holds `scan`.
ProbeContext ContextAfterScan(const std::string& root, const FakeClock& clock,
                              std::shared_ptr<ScanData> scan) {
  auto previous = std::make_shared<Snapshot>();
  previous->Put<ScanData>(scan, scan->scanned_at);
  ProbeContext ctx;
  ctx.cache_root = root;
  ctx.clock = &clock;
  ctx.previous = previous;
  return ctx;
}

std::shared_ptr<const DindData> RunProbe(const nlohmann::json& section, ProbeContext& ctx) {
  nlohmann::json effective;
  ConfigReader reader(&section, "/probes/dind", &effective);
  auto probe = NewDindProbe(ReadDindOptions(reader));
  reader.Finish();
  std::shared_ptr<const ProbeData> out;
  Status s = probe->Collect(ctx, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return std::dynamic_pointer_cast<const DindData>(out);
}

void SetMtimeTree(const std::string& path, time_t when) {
  struct timespec ts[2] = {{when, 0}, {when, 0}};
  for (auto& e : fs::recursive_directory_iterator(path)) {
    ::utimensat(AT_FDCWD, e.path().c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
  ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

TEST_CASE("dind leftovers: old non-cache entries count, cache_ and recent ones do not", "[dind]") {
  TempDir dir;
  FakeClock clock;
  const time_t now = std::chrono::system_clock::to_time_t(clock.Now());
  for (auto e : {"old1/data", "old2", "cache_main/data", "fresh/data"})
    fs::create_directories(dir / ("dind/" + std::string(e)));
  testing::WriteFile(dir / "dind/old1/data/blob", std::string(100000, 'x'));
  ::link((dir / "dind/old1/data/blob").c_str(), (dir / "dind/old1/data/hardlink").c_str());
  testing::WriteFile(dir / "dind/cache_main/data/blob", std::string(50000, 'y'));
  SetMtimeTree(dir / "dind/old1", now - 7200);
  SetMtimeTree(dir / "dind/old2", now - 7200);
  SetMtimeTree(dir / "dind/cache_main", now - 7200);
  SetMtimeTree(dir / "dind/fresh", now - 60);
  ProbeContext ctx;
  ctx.cache_root = dir.path();
  ctx.clock = &clock;
  auto d = RunProbe({{"other_namespaces", false}}, ctx);
  REQUIRE(d->entries.size() == 4);
  CHECK(d->leftover_entries == 2);
  std::uint64_t old1 = 0;
  for (const auto& e : d->entries) {
    if (e.name == "old1") old1 = e.bytes;
    CHECK(e.leftover == (e.name == "old1" || e.name == "old2"));
  }
  // Three directories and one 100 kB file counted once despite its second link.
  CHECK(old1 >= 100000);
  CHECK(old1 < 200000);
  CHECK(d->leftover_bytes >= old1);
  auto shorter = RunProbe({{"other_namespaces", false}, {"leftover_age", "30s"}}, ctx);
  CHECK(shorter->leftover_entries == 3);
}

TEST_CASE("dind: an entry with no known mtime is not a leftover", "[dind]") {
  TempDir dir;
  FakeClock clock;
  auto scan = std::make_shared<ScanData>();
  scan->root = dir.path();
  scan->scanned_at = clock.Now();
  // A mount point entry: nothing inside was counted, its mtime is the epoch.
  scan->dind_entries.push_back({"mounted", false, 0, 0, 0, SystemTime{}, 1});
  scan->dind_entries.push_back({"old", false, 10, 10, 1, clock.Now() - std::chrono::hours(3), 0});
  ProbeContext ctx = ContextAfterScan(dir.path(), clock, scan);
  auto d = RunProbe({{"other_namespaces", false}}, ctx);
  REQUIRE(d->entries.size() == 2);
  CHECK(d->leftover_entries == 1);
  for (const auto& e : d->entries) CHECK(e.leftover == (e.name == "old"));
}

TEST_CASE("dind: a cancelled run fails instead of giving partial sizes", "[dind]") {
  TempDir dir;
  fs::create_directories(dir / "dind/a/b");
  std::atomic<bool> cancel{true};
  ProbeContext ctx;
  ctx.cache_root = dir.path();
  ctx.cancel = &cancel;
  nlohmann::json section = {{"other_namespaces", false}};
  ConfigReader reader(&section, "/probes/dind", nullptr);
  auto probe = NewDindProbe(ReadDindOptions(reader));
  std::shared_ptr<const ProbeData> out;
  Status s = probe->Collect(ctx, &out);
  CHECK(s.code() == StatusCode::kCancelled);
  CHECK(out == nullptr);
}

TEST_CASE("dind: an entry that is itself a mount point is not walked into", "[dind][root]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  FakeClock clock;
  const time_t old = std::chrono::system_clock::to_time_t(clock.Now()) - 7200;
  fs::create_directories(dir / "dind/mounted");
  REQUIRE(testing::MountTmpfs(dir / "dind/mounted", "8m") == "");
  testing::WriteFile(dir / "dind/mounted/blob", std::string(100000, 'x'));
  SetMtimeTree(dir / "dind/mounted", old);
  ProbeContext ctx;
  ctx.cache_root = dir.path();
  ctx.clock = &clock;
  auto d = RunProbe({{"other_namespaces", false}}, ctx);
  CHECK(d->sizes_from == "walk");
  REQUIRE(d->entries.size() == 1);
  // Counted as a mount point (as the scan does): no bytes, no known mtime, so not a leftover even
  // though everything inside is old.
  CHECK(d->entries[0].bytes == 0);
  CHECK_FALSE(d->entries[0].leftover);
  CHECK(d->leftover_entries == 0);
}

// A /proc of our own: pid 100 is us (namespace 111), 200 and 201 share namespace 222 (a build
// container), 300 shares ours.
void FakeProc(const TempDir& dir) {
  auto proc = dir / "proc";
  auto add = [&](const std::string& pid, const std::string& ns, const std::string& comm,
                 const std::string& mountinfo) {
    fs::create_directories(proc + "/" + pid + "/ns");
    fs::create_symlink("mnt:[" + ns + "]", proc + "/" + pid + "/ns/mnt");
    testing::WriteFile(proc + "/" + pid + "/comm", comm + "\n");
    testing::WriteFile(proc + "/" + pid + "/mountinfo", mountinfo);
  };
  const std::string root = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n";
  add("100", "111", "cachewarden",
      root +
          "2 1 0:40 / /tmp/earthly/dind/own1/mnt rw - tmpfs tmpfs rw\n3 1 0:41 / /tmp/earthly/dind "
          "rw - ext4 /dev/sdb rw\n");
  add("200", "222", "dockerd",
      root +
          "5 1 0:50 / /var/earthly/dind/abc/tmp.x/overlay2/m1/merged rw - overlay overlay rw\n6 1 "
          "0:51 / /elsewhere rw - tmpfs tmpfs rw\n");
  add("201", "222", "containerd", root);
  add("300", "111", "sh", root);
  fs::create_directory_symlink("100", proc + "/self");
}

TEST_CASE("dind mounts are found in our namespace and each other one once", "[dind]") {
  TempDir dir;
  FakeProc(dir);
  ProbeContext ctx;
  ctx.cache_root = "/tmp/earthly";
  ctx.proc_root = dir / "proc";
  auto d = RunProbe(nlohmann::json::object(), ctx);
  REQUIRE(d->mounts.size() == 2);
  const auto& own = d->mounts[0].mount;
  CHECK(own.own_namespace);
  CHECK(own.pid == 100);
  CHECK(own.mount_ns == 111);
  CHECK(own.command == "cachewarden");
  CHECK(own.entry_id == "own1");
  const auto& other = d->mounts[1].mount;
  CHECK_FALSE(other.own_namespace);
  CHECK(other.pid == 200);
  CHECK(other.command == "dockerd");
  CHECK(other.entry_id == "abc");
  CHECK(other.dind_dir == "/var/earthly/dind");
  CHECK(d->namespaces == 2);
  CHECK(d->MountCount(true) == 1);
  CHECK(d->MountCount(false) == 1);
  auto no_others = RunProbe({{"other_namespaces", false}}, ctx);
  CHECK(no_others->mounts.size() == 1);
}

TEST_CASE("namespace links parse", "[dind]") {
  CHECK(ParseNamespaceLink("mnt:[4026531840]") == 4026531840ULL);
  CHECK(ParseNamespaceLink("mnt:[x]") == 0);
  CHECK(ParseNamespaceLink("") == 0);
}

}  // namespace
}  // namespace cachewarden

namespace cachewarden {
namespace {

TEST_CASE("dind reuses the scan probe's entries when its walk is fresh", "[dind]") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "dind/walked");
  FakeClock clock;
  auto scan = std::make_shared<ScanData>();
  scan->root = dir.path();
  scan->scanned_at = clock.Now() - std::chrono::minutes(5);
  scan->dind_entries.push_back(
      {"old", false, 5000, 6000, 3, clock.Now() - std::chrono::hours(3), 0});
  scan->dind_entries.push_back(
      {"cache_x", true, 7000, 7000, 2, clock.Now() - std::chrono::hours(3), 0});
  ProbeContext ctx = ContextAfterScan(dir.path(), clock, scan);
  auto d = RunProbe({{"other_namespaces", false}}, ctx);
  CHECK(d->sizes_from == "scan");
  REQUIRE(d->entries.size() == 2);
  CHECK(d->leftover_entries == 1);
  CHECK(d->leftover_bytes == 5000);
  // Too old: measured here instead (and the scan's entries are not used).
  clock.Advance(std::chrono::minutes(20));
  d = RunProbe({{"other_namespaces", false}}, ctx);
  CHECK(d->sizes_from == "walk");
  REQUIRE(d->entries.size() == 1);
  CHECK(d->entries[0].name == "walked");
}

}  // namespace
}  // namespace cachewarden
