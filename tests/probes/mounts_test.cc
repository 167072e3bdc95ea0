// The mounts probe's pieces, and the probe on a real overlay made in the test's private mount
// namespace. `check` on real mounts, through the binary: tests/e2e/check_cli_test.cc.
#include "probes/mounts.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::TempDir;

TEST_CASE("a cache dir that does not exist yet resolves through its parent", "[mounts]") {
  TempDir dir;
  std::filesystem::create_directories(dir / "a");
  std::filesystem::create_directory_symlink(dir / "a", dir / "link");
  std::string existing;
  CHECK(ResolveCachePath(dir / "link/earthly/x", &existing) == dir / "a/earthly/x");
  CHECK(existing == dir / "a");
  CHECK(ResolveCachePath("/", &existing) == "/");
}

TEST_CASE("mount info labels are valid UTF-8 whatever bytes mountinfo held", "[mounts]") {
  MountsData d;
  d.holder.fstype = "fuse.\xff";
  d.holder.source = "src\xfe";
  d.holder.mount_point = "/mnt/\xc3";
  MetricWriter w;
  d.ExportMetrics(w);
  bool found = false;
  for (const auto& f : w.Take()) {
    if (f.name != "cachewarden_mount_info") continue;
    for (const auto& l : f.metric.at(0).label) {
      if (l.name == "fstype") CHECK(l.value == "fuse.\xEF\xBF\xBD");
      if (l.name == "source") CHECK(l.value == "src\xEF\xBF\xBD");
      if (l.name == "mount_point") CHECK(l.value == "/mnt/\xEF\xBF\xBD");
      found = true;
    }
  }
  CHECK(found);
}

TEST_CASE("an overlay mounted for real classifies as a container root", "[mounts][root]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::string line;
  REQUIRE(testing::MountOverlay(dir.path(), &line) == "");
  ProbeContext ctx;
  ctx.cache_root = dir / "merged/tmp/earthly";
  MountsData data;
  REQUIRE(CollectMounts(ctx, &data).ok());
  CHECK(data.holder.fstype == "overlay");
  CHECK(data.verdict.kind == MountKind::kContainerRoot);
  CHECK(data.statfs_type == kOverlayfsMagic);
  CHECK(data.verdict.statfs_agrees);
}

}  // namespace
}  // namespace cachewarden
