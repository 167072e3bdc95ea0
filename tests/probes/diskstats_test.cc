#include "probes/diskstats.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "tests/support/file_tree.h"
#include "tests/support/mounts.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

namespace cachewarden {
namespace {

std::string Fixture(const std::string& rel) {
  return testing::SourceDir() + "/tests/fixtures/diskstats/" + rel;
}

TEST_CASE("diskstats resolves a partition to its disk and names missing devices", "[diskstats]") {
  std::string reason;
  CHECK(ResolveDisk(Fixture("sys"), 8, 1, &reason) == "sda");
  CHECK(ResolveDisk(Fixture("sys"), 8, 0, &reason) == "sda");
  CHECK(ResolveDisk(Fixture("sys"), 254, 0, &reason) == "dm-0");
  // NVMe namespaces and virtio disks, each whole and as a partition.
  CHECK(ResolveDisk(Fixture("sys"), 259, 0, &reason) == "nvme0n1");
  CHECK(ResolveDisk(Fixture("sys"), 259, 2, &reason) == "nvme0n1");
  CHECK(ResolveDisk(Fixture("sys"), 252, 16, &reason) == "vdb");
  CHECK(ResolveDisk(Fixture("sys"), 252, 17, &reason) == "vdb");
  CHECK(ResolveDisk(Fixture("sys"), 0, 52, &reason).empty());
  CHECK(reason.find("overlay, tmpfs") != std::string::npos);
  CHECK(ResolveDisk(Fixture("sys"), 259, 3, &reason).empty());
  CHECK(reason.find("259:3") != std::string::npos);
}

TEST_CASE("diskstats computes await, utilisation and queue depth from deltas", "[diskstats]") {
  auto a = ParseDiskstats(testing::ReadFile(Fixture("proc/diskstats.1")), "sda");
  auto b = ParseDiskstats(testing::ReadFile(Fixture("proc/diskstats.2")), "sda");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->reads == 1000);
  CHECK(b->weighted_ms == 29000);
  // 10 s apart: 100 reads took 200 ms, 400 writes took 2000 ms, busy 5 s, weighted 4 s.
  DeviceRates r = ComputeRates(*a, *b, 10);
  CHECK(r.read_await_seconds == Approx(0.002));
  CHECK(r.write_await_seconds == Approx(0.005));
  CHECK(r.utilization_ratio == Approx(0.5));
  CHECK(r.queue_depth == Approx(0.4));
  // An idle device: no I/O, no await.
  auto c = ParseDiskstats(testing::ReadFile(Fixture("proc/diskstats.2")), "dm-0");
  DeviceRates idle = ComputeRates(*c, *c, 10);
  CHECK(idle.read_await_seconds == 0);
  CHECK(idle.utilization_ratio == 0);
  CHECK_FALSE(ParseDiskstats("garbage\n", "sda"));
}

TEST_CASE("diskstats reads NVMe lines with flush fields and old 14-field lines", "[diskstats]") {
  const std::string one = testing::ReadFile(Fixture("proc/diskstats.1"));
  const std::string two = testing::ReadFile(Fixture("proc/diskstats.2"));
  // nvme0n1 (20 fields, Linux >= 5.5): 100 reads in 50 ms, 100 writes in 200 ms, busy 1 s, weighted
  // 250 ms, over 10 s.
  auto a = ParseDiskstats(one, "nvme0n1");
  auto b = ParseDiskstats(two, "nvme0n1");
  REQUIRE(a);
  REQUIRE(b);
  DeviceRates r = ComputeRates(*a, *b, 10);
  CHECK(r.read_await_seconds == Approx(0.0005));
  CHECK(r.write_await_seconds == Approx(0.002));
  CHECK(r.utilization_ratio == Approx(0.1));
  CHECK(r.queue_depth == Approx(0.025));
  // vdb (14 fields, before Linux 4.18): 10 reads in 10 ms, no writes.
  a = ParseDiskstats(one, "vdb");
  b = ParseDiskstats(two, "vdb");
  REQUIRE(a);
  REQUIRE(b);
  r = ComputeRates(*a, *b, 10);
  CHECK(r.read_await_seconds == Approx(0.001));
  CHECK(r.write_await_seconds == 0);
  CHECK(r.utilization_ratio == Approx(0.0005));
  // A name is matched whole: "vdb" is not "vdb1".
  CHECK(ParseDiskstats(one, "vdb")->reads == 10);
}

TEST_CASE("diskstats probe reports the await between the fixture's two samples", "[diskstats]") {
  // The cache is a directory on this disk; a /sys of our own maps its device to the fixture's sda1,
  // and a /proc of our own holds diskstats.1 for the first run and diskstats.2 for the second.
  testing::TempDir tmp;
  testing::MakeDirs(tmp / "cache");
  struct stat st {};
  REQUIRE(::stat((tmp / "cache").c_str(), &st) == 0);
  if (major(st.st_dev) == 0) CW_SKIP("the temporary directory is on no block device");
  std::filesystem::copy(
      Fixture("sys"), tmp / "sys",
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  const std::string link = tmp / ("sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
                                  std::to_string(minor(st.st_dev)));
  std::filesystem::remove(link);
  std::filesystem::create_symlink("../../devices/pci0000:00/0000:00:04.0/block/sda/sda1", link);
  testing::MakeDirs(tmp / "proc");
  std::filesystem::copy_file(Fixture("proc/diskstats.1"), tmp / "proc/diskstats");

  nlohmann::json j = nlohmann::json::object();
  ConfigReader r(&j, "/probes/diskstats", nullptr);
  auto probe = NewDiskstatsProbe(ReadDiskstatsOptions(r));
  FakeClock clock;
  ProbeContext ctx;
  ctx.cache_root = tmp / "cache";
  ctx.proc_root = tmp / "proc";
  ctx.sys_root = tmp / "sys";
  ctx.clock = &clock;
  std::shared_ptr<const ProbeData> out;
  REQUIRE(probe->Collect(ctx, &out).ok());
  auto d = std::dynamic_pointer_cast<const DiskstatsData>(out);
  CHECK(d->device == "sda");  // the partition resolved to its disk
  CHECK_FALSE(d->has_rates);
  std::filesystem::copy_file(Fixture("proc/diskstats.2"), tmp / "proc/diskstats",
                             std::filesystem::copy_options::overwrite_existing);
  REQUIRE(probe->Collect(ctx, &out).ok());
  d = std::dynamic_pointer_cast<const DiskstatsData>(out);
  REQUIRE(d->has_rates);
  // sda from diskstats.1 to .2: reads 1000 -> 1100 in 5000 -> 5200 ms, writes 2000 -> 2400 in
  // 20000 -> 22000 ms. Await is time per I/O, whatever the interval: 200 ms / 100 reads and 2000 ms
  // / 400 writes. (Utilisation and queue depth divide by the real time between the two runs.)
  CHECK(d->rates.read_await_seconds == Approx(0.002));
  CHECK(d->rates.write_await_seconds == Approx(0.005));
}

TEST_CASE("diskstats probe follows the loop device under an ext4 cache", "[diskstats][root]") {
  CW_REQUIRE_ROOT();
  testing::TempDir tmp;
  testing::MakeDirs(tmp / "mnt");
  REQUIRE(testing::MountExt4Loop(tmp / "img", tmp / "mnt", 32) == "");
  nlohmann::json j = nlohmann::json::object();
  ConfigReader r(&j, "/probes/diskstats", nullptr);
  auto probe = NewDiskstatsProbe(ReadDiskstatsOptions(r));
  FakeClock clock;
  ProbeContext ctx;
  ctx.cache_root = tmp / "mnt";
  ctx.clock = &clock;
  std::shared_ptr<const ProbeData> out;
  REQUIRE(probe->Collect(ctx, &out).ok());
  auto d = std::dynamic_pointer_cast<const DiskstatsData>(out);
  CHECK(d->device.starts_with("loop"));
  CHECK_FALSE(d->has_rates);
  testing::MakeFile(tmp / "mnt/data", 4 << 20);
  REQUIRE(testing::RunProcess({"sync", "-f", tmp / "mnt/data"}).exit_code == 0);
  clock.Advance(std::chrono::seconds(1));
  REQUIRE(probe->Collect(ctx, &out).ok());
  d = std::dynamic_pointer_cast<const DiskstatsData>(out);
  // The figures themselves are the kernel's; the fixture test above checks them exactly.
  REQUIRE(d->has_rates);
  MetricWriter w;
  d->ExportMetrics(w);
  auto families = w.Take();
  REQUIRE(families.size() == 4);
  std::set<std::string> names;
  for (const auto& f : families) {
    names.insert(f.name);
    REQUIRE(f.metric.size() == 1);
    CHECK(f.metric[0].label[0].name == "device");
    CHECK(f.metric[0].label[0].value == d->device);
  }
  CHECK(names == std::set<std::string>{"cachewarden_device_read_await_seconds",
                                       "cachewarden_device_write_await_seconds",
                                       "cachewarden_device_io_utilization_ratio",
                                       "cachewarden_device_io_queue_depth"});

  // tmpfs has no block device: said plainly, not a failure.
  testing::MakeDirs(tmp / "t");
  REQUIRE(testing::MountTmpfs(tmp / "t", "1m") == "");
  ctx.cache_root = tmp / "t";
  REQUIRE(probe->Collect(ctx, &out).ok());
  d = std::dynamic_pointer_cast<const DiskstatsData>(out);
  CHECK(d->device.empty());
  CHECK_FALSE(d->no_device_reason.empty());
}

}  // namespace
}  // namespace cachewarden
