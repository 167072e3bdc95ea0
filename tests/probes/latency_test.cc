#include "probes/latency.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/enum_names.h"
#include "tests/support/file_tree.h"
#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

std::shared_ptr<const LatencyData> Run(Probe& p, const ProbeContext& ctx) {
  std::shared_ptr<const ProbeData> out;
  Status s = p.Collect(ctx, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return std::dynamic_pointer_cast<const LatencyData>(out);
}

// Runs the probe a few times on `root` and checks what every filesystem must give; returns the last
// data.
std::shared_ptr<const LatencyData> Exercise(const std::string& root, bool direct = true) {
  LatencyOptions o;
  o.working_set_bytes = 1 << 20;
  o.direct = direct;
  auto probe = NewLatencyProbe(o);
  ProbeContext ctx;
  ctx.cache_root = root;
  auto d = Run(*probe, ctx);
  CHECK(d->warmup);
  CHECK(d->histograms[kOpRead].Count() == 0);  // the warm-up is not recorded
  for (int i = 0; i < 5; ++i) d = Run(*probe, ctx);
  CHECK_FALSE(d->warmup);
  for (int op = 0; op < kOpCount; ++op) {
    INFO(LatencyOpName(op));
    CHECK(d->histograms[op].Count() == 5);
    CHECK(d->last_seconds[op] > 0);
    CHECK(d->median_seconds[op] > 0);
  }
  CHECK(d->errors.empty());
  CHECK_FALSE(d->eio);
  for (int op = 0; op < kOpCount; ++op) {
    // Every recorded run is in the window the latency alert takes its p99 from.
    CHECK(d->window[op].size() == 5);
    CHECK(WindowQuantile(*d, op, ctx.Now() - std::chrono::minutes(5), 0.99) > 0);
  }
  // The metrics: a histogram per op with buckets from 50 µs to 10 s, and the latest latency per op.
  MetricWriter w;
  d->ExportMetrics(w);
  int histograms = 0, lasts = 0;
  for (const auto& f : w.Take()) {
    if (f.name == "cachewarden_io_latency_seconds") {
      for (const auto& m : f.metric) {
        histograms++;
        CHECK(m.histogram.sample_count == 5);
        REQUIRE(m.histogram.bucket.size() >= 17);
        CHECK(m.histogram.bucket.front().upper_bound == Approx(50e-6));
        CHECK(m.histogram.bucket[16].upper_bound == Approx(10));
      }
    }
    if (f.name == "cachewarden_io_latency_last_seconds") lasts += static_cast<int>(f.metric.size());
  }
  CHECK(histograms == kOpCount);
  CHECK(lasts == kOpCount);
  CHECK(access((root + "/.cachewarden/latency.probe").c_str(), F_OK) == 0);
  probe->Retire(ctx);
  CHECK(access((root + "/.cachewarden").c_str(), F_OK) != 0);  // cleaned up
  return d;
}

TEST_CASE("latency probe reads with O_DIRECT on ext4 on a loop device", "[latency][root]") {
  CW_REQUIRE_ROOT();
  testing::TempDir tmp;
  testing::MakeDirs(tmp / "mnt");
  REQUIRE(testing::MountExt4Loop(tmp / "img", tmp / "mnt", 32) == "");
  auto d = Exercise(tmp / "mnt");
  CHECK(d->mode == LatencyReadMode::kDirect);
}

TEST_CASE("latency probe on tmpfs reports the read mode it used", "[latency][root]") {
  CW_REQUIRE_ROOT();
  testing::TempDir tmp;
  testing::MakeDirs(tmp / "mnt");
  REQUIRE(testing::MountTmpfs(tmp / "mnt", "8m") == "");
  // Before Linux 6.6 tmpfs refuses O_DIRECT: the probe falls back by itself.
  testing::WriteFile(tmp / "mnt/t", "x");
  int fd = open((tmp / "mnt/t").c_str(), O_RDONLY | O_DIRECT);
  const bool kernel_allows_direct = fd >= 0;
  if (fd >= 0) close(fd);
  unlink((tmp / "mnt/t").c_str());
  CHECK(Exercise(tmp / "mnt")->mode ==
        (kernel_allows_direct ? LatencyReadMode::kDirect : LatencyReadMode::kFadvise));
  // The fallback itself, forced.
  auto d = Exercise(tmp / "mnt", /*direct=*/false);
  CHECK(d->mode == LatencyReadMode::kFadvise);
  MetricWriter w;
  d->ExportMetrics(w);
  bool fadvise_on = false;
  for (const auto& f : w.Take()) {
    if (f.name != "cachewarden_io_probe_mode") continue;
    for (const auto& m : f.metric) {
      if (m.label[0].value == "fadvise") fadvise_on = m.gauge.value == 1;
    }
  }
  CHECK(fadvise_on);
}

TEST_CASE("latency probe counts ENOSPC instead of failing", "[latency][root]") {
  CW_REQUIRE_ROOT();
  testing::TempDir tmp;
  testing::MakeDirs(tmp / "mnt");
  REQUIRE(testing::MountTmpfs(tmp / "mnt", "1m") == "");
  LatencyOptions o;
  o.working_set_bytes = 1 << 20;
  auto probe = NewLatencyProbe(o);
  ProbeContext ctx;
  ctx.cache_root = tmp / "mnt";
  (void)Run(*probe, ctx);
  // Fill the filesystem, then keep probing: writes fail with ENOSPC.
  auto r = testing::RunProcess({"sh", "-c", "cat /dev/zero > " + (tmp / "mnt/fill")});
  std::shared_ptr<const LatencyData> d;
  for (int i = 0; i < 3; ++i) d = Run(*probe, ctx);
  CHECK(d->errors.contains("ENOSPC"));
  probe->Retire(ctx);
}

TEST_CASE("latency probe refuses a symlinked .cachewarden directory", "[latency]") {
  testing::TempDir tmp;
  testing::MakeDirs(tmp / "root");
  testing::MakeDirs(tmp / "elsewhere");
  testing::MakeSymlink(tmp / "elsewhere", tmp / "root/.cachewarden");
  LatencyOptions o;
  o.working_set_bytes = 1 << 20;
  auto probe = NewLatencyProbe(o);
  ProbeContext ctx;
  ctx.cache_root = tmp / "root";
  std::shared_ptr<const ProbeData> out;
  Status s = probe->Collect(ctx, &out);
  CHECK(s.code() == StatusCode::kSymlink);
  CHECK(s.path() == tmp / "root/.cachewarden");
  CHECK(out == nullptr);
  probe->Retire(ctx);
  // Nothing written through the link, nothing removed.
  CHECK(access((tmp / "elsewhere/latency.probe").c_str(), F_OK) != 0);
  CHECK(access((tmp / "elsewhere").c_str(), F_OK) == 0);
  struct stat st {};
  CHECK(lstat((tmp / "root/.cachewarden").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));  // left alone
}

TEST_CASE("latency probe fails with the reason when its root is gone or a symlink, and recovers",
          "[latency]") {
  testing::TempDir tmp;
  const std::string root = tmp / "root";
  testing::MakeDirs(root);
  testing::MakeDirs(tmp / "elsewhere");
  LatencyOptions o;
  o.working_set_bytes = 1 << 20;
  auto probe = NewLatencyProbe(o);
  ProbeContext ctx;
  ctx.cache_root = root;
  for (int i = 0; i < 2; ++i) (void)Run(*probe, ctx);
  std::shared_ptr<const ProbeData> out;
  // The cache removed: the run fails instead of timing a deleted file.
  std::filesystem::remove_all(root);
  Status s = probe->Collect(ctx, &out);
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kMissing);
  CHECK(s.path() == root);
  // Replaced by a symlink: refused, nothing made through it.
  testing::MakeSymlink(tmp / "elsewhere", root);
  s = probe->Collect(ctx, &out);
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kSymlink);
  CHECK(s.path() == root);
  CHECK(access((tmp / "elsewhere/.cachewarden").c_str(), F_OK) != 0);
  // A fresh directory: the probe works there again, on a file of its own.
  REQUIRE(::unlink(root.c_str()) == 0);
  testing::MakeDirs(root);
  auto d = Run(*probe, ctx);
  CHECK(d->errors.empty());
  CHECK(d->last_seconds[kOpWrite] > 0);
  CHECK(access((root + "/.cachewarden/latency.probe").c_str(), F_OK) == 0);
  d = Run(*probe, ctx);
  CHECK(d->last_seconds[kOpRead] > 0);  // reads back what it wrote in the new root
  probe->Retire(ctx);
  CHECK(access((root + "/.cachewarden").c_str(), F_OK) != 0);
}

TEST_CASE("latency probe holds no file between runs, fails with EROFS read-only, and recovers",
          "[latency][root]") {
  CW_REQUIRE_ROOT();
  testing::TempDir tmp;
  const std::string mnt = tmp / "mnt";
  testing::MakeDirs(mnt);
  REQUIRE(testing::MountTmpfs(mnt, "8m") == "");
  LatencyOptions o;
  o.working_set_bytes = 1 << 20;
  auto probe = NewLatencyProbe(o);
  ProbeContext ctx;
  ctx.cache_root = mnt;
  for (int i = 0; i < 2; ++i) (void)Run(*probe, ctx);
  // Between runs nothing of the probe is open, so the remount succeeds (an open file: EBUSY).
  REQUIRE(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0);
  std::shared_ptr<const ProbeData> out;
  Status s = probe->Collect(ctx, &out);
  INFO(s.ToString());
  CHECK_FALSE(s.ok());
  CHECK(s.error_number() == EROFS);
  CHECK(out == nullptr);
  REQUIRE(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT, nullptr) == 0);
  auto d = Run(*probe, ctx);
  CHECK(d->last_seconds[kOpWrite] > 0);
  CHECK(d->last_seconds[kOpRead] > 0);  // the same root: the blocks written before still count
  probe->Retire(ctx);
}

TEST_CASE("latency probe's metadata op survives a leftover file", "[latency]") {
  testing::TempDir tmp;
  testing::MakeDirs(tmp / ".cachewarden");
  // As if a run had stopped between creating and unlinking it.
  testing::WriteFile(tmp / ".cachewarden/meta.probe", "x");
  LatencyOptions o;
  o.working_set_bytes = 1 << 20;
  auto probe = NewLatencyProbe(o);
  ProbeContext ctx;
  ctx.cache_root = tmp.path();
  for (int i = 0; i < 2; ++i) {
    auto d = Run(*probe, ctx);
    CHECK(d->last_seconds[kOpMetadata] > 0);
    CHECK(d->errors.empty());
  }
  probe->Retire(ctx);
  CHECK(access((tmp / ".cachewarden").c_str(), F_OK) != 0);  // cleaned up
}

TEST_CASE("latency probe config is strict", "[latency][config]") {
  nlohmann::json j = nlohmann::json::parse(R"({"working_set": "1KiB"})");
  ConfigReader r(&j, "/probes/latency", nullptr);
  CHECK_THROWS_WITH(ReadLatencyOptions(r), Catch::Contains("/probes/latency/working_set"));
  // Too large: the probe would allocate a bit per block of it.
  nlohmann::json big = nlohmann::json::parse(R"({"working_set": "65GiB"})");
  ConfigReader rb(&big, "/probes/latency", nullptr);
  CHECK_THROWS_WITH(ReadLatencyOptions(rb), Catch::Contains("/probes/latency/working_set"));
  nlohmann::json max = nlohmann::json::parse(R"({"working_set": "64GiB"})");
  ConfigReader rm(&max, "/probes/latency", nullptr);
  CHECK(ReadLatencyOptions(rm).working_set_bytes == 64ull << 30);
}

TEST_CASE("latency read modes: one name each, both directions", "[latency][names]") {
  testing::CheckNameTable<LatencyReadMode>(kLatencyReadModeNames, LatencyReadMode::kFadvise);
}

}  // namespace
}  // namespace cachewarden
