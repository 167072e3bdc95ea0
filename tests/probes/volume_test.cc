#include "probes/volume.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "tests/support/file_tree.h"
#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;

std::unique_ptr<Probe> MakeProbe(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json);
  nlohmann::json eff;
  ConfigReader r(&j, "/probes/volume", &eff);
  auto p = NewVolumeProbe(ReadVolumeOptions(r));
  r.Finish();
  return p;
}

std::shared_ptr<const VolumeData> CollectVolume(Probe& p, const ProbeContext& ctx) {
  std::shared_ptr<const ProbeData> out;
  Status s = p.Collect(ctx, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return std::dynamic_pointer_cast<const VolumeData>(out);
}

TEST_CASE("volume probe predicts when a filling tmpfs is full", "[volume][growth][root]") {
  CW_REQUIRE_ROOT();
  testing::TempDir tmp;
  const std::string root = tmp / "cache";
  testing::MakeDirs(root);
  REQUIRE(testing::MountTmpfs(root, "64m") == "");
  auto probe = MakeProbe(R"({"growth_window": "1h", "growth_min_samples": 5,
                             "growth_min_span": "4m"})");
  FakeClock clock;
  ProbeContext ctx;
  ctx.cache_root = root;
  ctx.clock = &clock;
  std::shared_ptr<const VolumeData> v;
  // 1 MiB a minute.
  for (int i = 0; i < 10; ++i) {
    testing::MakeFile(fmt::format("{}/f{}", root, i), 1 << 20);
    v = CollectVolume(*probe, ctx);
    CHECK(v->bytes_growth.valid == (i >= 4));
    clock.Advance(minutes(1));
  }
  REQUIRE(v->bytes_growth.valid);
  CHECK(v->bytes_growth.rate_per_second == Approx((1 << 20) / 60.0).epsilon(0.02));
  CHECK(v->bytes_growth.seconds_to_full ==
        Approx(static_cast<double>(v->avail_bytes) / ((1 << 20) / 60.0)).epsilon(0.02));
  REQUIRE(v->inodes_growth.valid);
  CHECK(v->inodes_growth.rate_per_second == Approx(1 / 60.0).epsilon(0.02));

  MetricWriter w;
  v->ExportMetrics(w);
  std::set<std::string> names;
  for (const auto& f : w.Take()) names.insert(f.name);
  CHECK(names.contains("cachewarden_volume_fill_rate_bytes_per_second"));
  CHECK(names.contains("cachewarden_volume_predicted_full_seconds"));
  CHECK(names.contains("cachewarden_volume_inodes_fill_rate_per_second"));
  CHECK(names.contains("cachewarden_volume_inodes_predicted_full_seconds"));
  CHECK(v->ToJson()["bytes_growth"]["valid"] == true);

  // Deleting everything: shrinking, so never full.
  for (int i = 0; i < 10; ++i) {
    (void)std::remove(fmt::format("{}/f{}", root, i).c_str());
    v = CollectVolume(*probe, ctx);
    clock.Advance(minutes(1));
  }
  CHECK(std::isinf(v->bytes_growth.seconds_to_full));
  CHECK(v->ToJson()["bytes_growth"]["predicted_full_seconds"].is_null());
}

TEST_CASE("volume growth metrics are absent until the window has enough samples",
          "[volume][growth]") {
  testing::TempDir tmp;
  auto probe = MakeProbe("{}");
  FakeClock clock;
  ProbeContext ctx;
  ctx.cache_root = tmp.path();
  ctx.clock = &clock;
  auto v = CollectVolume(*probe, ctx);
  CHECK_FALSE(v->bytes_growth.valid);
  MetricWriter w;
  v->ExportMetrics(w);
  for (const auto& f : w.Take()) CHECK(f.name.find("predicted_full") == std::string::npos);
  CHECK_THROWS_WITH(MakeProbe(R"({"growth_min_samples": 1})"),
                    Catch::Contains("/probes/volume/growth_min_samples"));
}

TEST_CASE("volume ratios stay in [0, 1] when free exceeds total", "[volume]") {
  VolumeData v;  // as some network and FUSE filesystems report
  v.size_bytes = 1000;
  v.free_bytes = 2000;
  v.avail_bytes = 1500;
  v.files = 10;
  v.files_free = 20;
  CHECK(v.UsedRatio() == 0);
  CHECK(v.InodesUsedRatio() == 0);
  v.free_bytes = v.avail_bytes = 250;
  v.files_free = 5;
  CHECK(v.UsedRatio() == Approx(0.75));
  CHECK(v.InodesUsedRatio() == Approx(0.5));
}

}  // namespace
}  // namespace cachewarden
