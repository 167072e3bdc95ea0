#include "probes/scan.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/file_tree.h"
#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::MakeDirs;
using testing::MakeFile;
using testing::TempDir;

constexpr std::int64_t kNow = 1'700'000'000;

// An Earthly-like cache: buildkit/ with a bolt DB and snapshots, dind/ with a cache_* entry and two
// per-build entries, a version marker, a hard link across groups and symlinks out of the tree.
std::string BuildCache(const TempDir& tmp) {
  const std::string root = tmp / "earthly";
  MakeDirs(root + "/buildkit/runc-overlayfs/snapshots/snapshots/1/fs/usr");
  MakeFile(root + "/buildkit/metadata_v2.db", 2'000'000);
  MakeFile(root + "/buildkit/runc-overlayfs/snapshots/snapshots/1/fs/usr/bin", 700'000);
  MakeDirs(root + "/dind/cache_base/image");
  MakeDirs(root + "/dind/0a1b2c/overlay2");
  MakeDirs(root + "/dind/ffee/tmp");
  MakeFile(root + "/dind/cache_base/image/layer", 900'000);
  MakeFile(root + "/dind/0a1b2c/overlay2/layer", 400'000);
  MakeFile(root + "/dind/ffee/tmp/x", 10'000);
  testing::MakeHardLink(root + "/buildkit/metadata_v2.db", root + "/dind/ffee/tmp/db-link");
  MakeFile(tmp / "outside", 3'000'000);
  testing::MakeSymlink(tmp / "outside", root + "/dind/0a1b2c/escape");
  testing::MakeSymlink(tmp.path(), root + "/buildkit/up");
  MakeFile(root + "/internal.earthly.version", 2);
  testing::SetTimes(root + "/dind/0a1b2c/overlay2/layer", kNow - 7200, kNow - 7200);
  testing::SetTimes(root + "/dind/0a1b2c/overlay2", kNow - 7200, kNow - 7200);
  testing::SetTimes(root + "/dind/0a1b2c/escape", kNow - 7200, kNow - 7200);
  testing::SetTimes(root + "/dind/0a1b2c", kNow - 7200, kNow - 7200);
  return root;
}

ScanData Scan(const std::string& root, const ScanOptions& o = {}) {
  FakeClock clock{SystemTime(std::chrono::seconds(kNow))};
  ScanData d;
  Status s = ScanCache(root, o, nullptr, clock, &d);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return d;
}

TEST_CASE("scan groups add up to du -sx of the cache root", "[scan]") {
  TempDir tmp;
  const std::string root = BuildCache(tmp);
  ScanData d = Scan(root);
  CHECK(d.total.allocated_bytes == testing::DuAllocated(root));
  CHECK(d.total.apparent_bytes == testing::DuApparent(root));
  REQUIRE(d.groups.size() == 3);
  CHECK(d.groups[0].name == "buildkit");
  CHECK(d.groups[1].name == "dind");
  CHECK(d.groups[2].name == "other");
  // buildkit is walked first, so the linked DB counts there (once), as `du root/buildkit root/dind`
  // would count it.
  CHECK(d.FindGroup("buildkit")->totals.allocated_bytes ==
        testing::DuAllocated(root + "/buildkit"));
  CHECK(d.FindGroup("other")->totals.inodes == 2);  // the root and the marker
  CHECK(d.total.skipped.Total() == 0);
}

TEST_CASE("scan lists every dind entry with size, age and kind", "[scan]") {
  TempDir tmp;
  const std::string root = BuildCache(tmp);
  ScanData d = Scan(root);
  REQUIRE(d.dind_entries.size() == 3);
  CHECK(d.dind_entries[0].name == "cache_base");  // largest first
  CHECK(d.dind_entries[0].is_cache);
  CHECK(d.dind_entries[1].name == "0a1b2c");
  CHECK_FALSE(d.dind_entries[1].is_cache);
  CHECK(d.dind_entries[1].allocated_bytes < 1'000'000);  // the symlink is itself
  CHECK(ToUnixSeconds(d.dind_entries[1].newest_mtime) == kNow - 7200);

  MetricWriter w;
  d.ExportMetrics(w);
  std::map<std::string, double> values;
  for (const auto& f : w.Take()) {
    for (const auto& m : f.metric) {
      std::string key = f.name;
      for (const auto& l : m.label) key += "{" + l.name + "=" + l.value + "}";
      values[key] = f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  CHECK(values["cachewarden_dind_entries{kind=cache}"] == 1);
  CHECK(values["cachewarden_dind_entries{kind=build}"] == 2);
  CHECK(values["cachewarden_dind_bytes{kind=cache}"] ==
        static_cast<double>(d.dind_entries[0].allocated_bytes));
  CHECK(values["cachewarden_dind_bytes{kind=build}"] ==
        static_cast<double>(d.dind_entries[1].allocated_bytes + d.dind_entries[2].allocated_bytes));
  // The scan ran at kNow on the fake clock: ffee is brand new (mtime now, real clock, so "age" is
  // clamped to 0), 0a1b2c idle for two hours.
  CHECK(values["cachewarden_dind_oldest_build_entry_age_seconds"] == 7200);
  CHECK(values["cachewarden_cache_bytes{group=dind}"] ==
        static_cast<double>(d.FindGroup("dind")->totals.allocated_bytes));
  CHECK(values.contains("cachewarden_scan_skipped_entries_total{reason=vanished}"));
  CHECK(values.contains("cachewarden_scan_duration_seconds"));
  CHECK(values.contains("cachewarden_cache_inodes{group=other}"));
  CHECK(values.contains("cachewarden_cache_apparent_bytes{group=buildkit}"));
}

TEST_CASE("scan keeps the top entries and files, largest first", "[scan]") {
  TempDir tmp;
  const std::string root = BuildCache(tmp);
  ScanOptions o;
  o.top = 2;
  ScanData d = Scan(root, o);
  REQUIRE(d.largest.size() == 2);
  CHECK(d.largest[0].path == "buildkit/metadata_v2.db");
  CHECK(d.largest[1].path == "dind/cache_base");
  REQUIRE(d.largest_files.size() == 2);
  CHECK(d.largest_files[0].path == "buildkit/metadata_v2.db");
  CHECK(d.largest_files[1].path == "dind/cache_base/image/layer");
  nlohmann::json j = d.ToJson();
  CHECK(j["groups"]["dind"]["inodes"] == d.FindGroup("dind")->totals.inodes);
  CHECK(j["dind_entries"][0]["kind"] == "cache");
}

TEST_CASE("scan reports a tmpfs inside a dind entry without counting it", "[scan][root]") {
  CW_REQUIRE_ROOT();
  TempDir tmp;
  const std::string root = BuildCache(tmp);
  MakeDirs(root + "/dind/ffee/merged");
  REQUIRE(testing::MountTmpfs(root + "/dind/ffee/merged", "8m") == "");
  MakeFile(root + "/dind/ffee/merged/big", 4'000'000);
  ScanData d = Scan(root);
  CHECK(d.total.allocated_bytes == testing::DuAllocated(root));
  CHECK(d.total.apparent_bytes == testing::DuApparent(root));
  CHECK(d.total.mount_points == 1);
  REQUIRE(d.mount_points.size() == 1);
  CHECK(d.mount_points[0] == "dind/ffee/merged");
  bool found = false;
  for (const auto& e : d.dind_entries) {
    if (e.name == "ffee") found = e.mount_points == 1;
  }
  CHECK(found);
}

TEST_CASE("scan asks the daemon to wait its CPU time over cpu_budget before the next", "[scan]") {
  using std::chrono::minutes;
  using std::chrono::seconds;
  // 2 s of CPU at 0.5% of a core: 400 s from start to start; more is cut at max_interval.
  CHECK(PacedGap(seconds(2), 0.5, minutes(10)) == seconds(400));
  CHECK(PacedGap(seconds(4), 0.5, minutes(10)) == minutes(10));
  CHECK(PacedGap(seconds(2), 0, minutes(10)) == Duration{});

  TempDir tmp;
  const std::string root = BuildCache(tmp);
  for (int i = 0; i < 200; ++i) MakeFile(root + "/dind/ffee/tmp/f" + std::to_string(i), 1);
  ScanOptions o;
  o.cpu_budget = 0.5;
  auto probe = NewScanProbe(o);
  ProbeContext ctx;
  ctx.cache_root = root;
  std::shared_ptr<const ProbeData> out;
  REQUIRE(probe->Collect(ctx, &out).ok());
  const auto& d = dynamic_cast<const ScanData&>(*out);
  // The walk's CPU time: more than nothing, and no more than its threads could use in its time.
  CHECK(d.cpu_time > Duration{});
  CHECK(d.cpu_time <= d.duration * (o.workers.threads + 1) + std::chrono::milliseconds(50));
  CHECK(d.paced_gap == PacedGap(d.cpu_time, 0.5, o.max_interval));
  CHECK(out->NextRunAfter() == d.paced_gap);
  CHECK(d.ToJson()["cpu_seconds"] == ToSeconds(d.cpu_time));
  CHECK(d.ToJson()["paced_interval_seconds"] == ToSeconds(d.paced_gap));
}

TEST_CASE("scan config is strict and checks its groups", "[scan][config]") {
  auto read = [](const std::string& text) {
    nlohmann::json j = nlohmann::json::parse(text);
    nlohmann::json eff;
    ConfigReader r(&j, "/probes/scan", &eff);
    ScanOptions o = ReadScanOptions(r);
    r.Finish();
    return o;
  };
  ScanOptions o = read(R"({"groups": {"bk": "buildkit", "docker": "dind"},
                           "dind_group": "docker", "top": 5, "threads": 4})");
  CHECK(o.groups.size() == 2);
  CHECK(o.dind_group == "docker");
  CHECK(o.top == 5);
  CHECK(o.workers.threads == 4);
  CHECK(read("{}").groups.size() == 2);
  CHECK(read("{}").cpu_budget == 0.5);
  CHECK(read("{}").max_interval == std::chrono::minutes(10));
  CHECK(read(R"({"cpu_budget": 0, "max_interval": "30m"})").cpu_budget == 0);
  CHECK(read(R"({"max_interval": "30m"})").max_interval == std::chrono::minutes(30));
  CHECK_THROWS_WITH(read(R"({"cpu_budget": 150})"), Catch::Contains("/probes/scan/cpu_budget"));
  CHECK_THROWS_WITH(read(R"({"max_interval": "0s"})"),
                    Catch::Contains("/probes/scan/max_interval"));
  CHECK_THROWS_WITH(read(R"({"groups": {"other": "x"}})"), Catch::Contains("reserved"));
  CHECK_THROWS_WITH(read(R"({"groups": {"a": "x/y"}})"), Catch::Contains("/probes/scan/groups/a"));
  CHECK_THROWS_WITH(read(R"({"dind_group": "nope"})"), Catch::Contains("dind_group"));
  CHECK_THROWS_WITH(read(R"({"threds": 2})"), Catch::Contains("threads"));
}

TEST_CASE("scan command prints the breakdown and the JSON", "[scan][cli]") {
  TempDir tmp;
  const std::string root = BuildCache(tmp);
  auto r = testing::RunProcess({testing::BinaryPath(), "scan", "--root", root, "--top", "3"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("groups:") != std::string::npos);
  CHECK(r.out.find("buildkit/metadata_v2.db") != std::string::npos);
  CHECK(r.out.find("dind entries: 1 cache_*") != std::string::npos);
  r = testing::RunProcess({testing::BinaryPath(), "scan", "--root", root, "--json"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["total"]["allocated_bytes"] == testing::DuAllocated(root));
  r = testing::RunProcess({testing::BinaryPath(), "scan", "--root", tmp / "absent"});
  CHECK(r.exit_code == 66);  // EX_NOINPUT: the root is not there
  r = testing::RunProcess({testing::BinaryPath(), "scan", "--root", root, "--top", "x"});
  CHECK(r.exit_code == 64);
}

}  // namespace
}  // namespace cachewarden
