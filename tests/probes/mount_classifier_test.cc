#include "probes/mount_classifier.h"

#include <catch2/catch.hpp>

#include "tests/support/process.h"

namespace cachewarden {
namespace {

MountVerdict ClassifyFixture(const std::string& name,
                             std::optional<std::uint64_t> f_type = std::nullopt) {
  auto t =
      ParseMountInfo(testing::ReadFile(testing::SourceDir() + "/tests/fixtures/mountinfo/" + name));
  const MountEntry* holder = t.Holder("/tmp/earthly/buildkit");
  REQUIRE(holder != nullptr);
  return ClassifyMount(t, *holder, f_type);
}

TEST_CASE("captured mount shapes classify as the kinds mount_classifier.h describes", "[mounts]") {
  struct Case {
    const char* fixture;
    MountKind kind;
  } cases[] = {
      {"container_overlay_root.txt", MountKind::kContainerRoot},
      {"docker_volume.txt", MountKind::kDockerVolume},
      {"docker_desktop_volume.txt", MountKind::kDockerVolume},
      {"k8s_emptydir_disk.txt", MountKind::kK8sEmptyDir},
      {"k8s_emptydir_memory.txt", MountKind::kK8sEmptyDirMemory},
      {"ebs_pv.txt", MountKind::kDedicatedDevice},
      {"host_bind.txt", MountKind::kHostBind},
      {"nfs.txt", MountKind::kNetwork},
      {"fuse_s3fs.txt", MountKind::kFuse},
  };
  for (const auto& c : cases) {
    INFO(c.fixture);
    auto v = ClassifyFixture(c.fixture);
    CHECK(v.kind == c.kind);
    CHECK_FALSE(v.readonly);
    CHECK(v.statfs_agrees);
    CHECK_FALSE(v.reason.empty());
  }
}

TEST_CASE("a read-only volume is flagged", "[mounts]") {
  auto v = ClassifyFixture("readonly_volume.txt");
  CHECK(v.kind == MountKind::kDockerVolume);
  CHECK(v.readonly);
}

TEST_CASE("statfs overrides a mountinfo that disagrees", "[mounts]") {
  auto v = ClassifyFixture("docker_volume.txt", kOverlayfsMagic);
  CHECK(v.kind == MountKind::kContainerRoot);
  CHECK_FALSE(v.statfs_agrees);
  v = ClassifyFixture("host_bind.txt", kTmpfsMagic);
  CHECK(v.kind == MountKind::kTmpfs);
  v = ClassifyFixture("container_overlay_root.txt", kOverlayfsMagic);
  CHECK(v.statfs_agrees);
}

TEST_CASE("only docker volumes, dedicated devices and host binds count as volumes", "[mounts]") {
  CHECK(IsVolumeKind(MountKind::kDockerVolume));
  CHECK(IsVolumeKind(MountKind::kDedicatedDevice));
  CHECK(IsVolumeKind(MountKind::kHostBind));
  CHECK_FALSE(IsVolumeKind(MountKind::kContainerRoot));
  CHECK_FALSE(IsVolumeKind(MountKind::kK8sEmptyDir));
  CHECK_FALSE(IsVolumeKind(MountKind::kTmpfs));
}

TEST_CASE("emptyDir is recognised only under kubernetes.io~empty-dir", "[mounts]") {
  auto t = ParseMountInfo(
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:1 /pods/x/volumes/kubernetes.io~empty-dir-test/c "
      "/c rw - ext4 /dev/sda1 rw\n");
  auto v = ClassifyMount(t, *t.Holder("/c"), std::nullopt);
  CHECK(v.kind == MountKind::kHostBind);
}

TEST_CASE("every mount kind has one name, and the name reads back as the kind", "[mounts]") {
  // The enum is dense from kContainerRoot to kUnknown, so the table must have a row for each.
  constexpr auto kCount = static_cast<std::size_t>(MountKind::kUnknown) + 1;
  REQUIRE(std::size(kMountKindNames) == kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    const auto kind = static_cast<MountKind>(i);
    const std::string_view name = MountKindName(kind);
    INFO(name);
    CHECK_FALSE(name.empty());
    CHECK(ValueIn<MountKind>(kMountKindNames, name) == kind);
  }
  CHECK(MountKindName(MountKind::kFuse) == "fuse");
  CHECK(MountKindName(MountKind::kK8sEmptyDirMemory) == "k8s_emptydir_memory");
  CHECK_FALSE(ValueIn<MountKind>(kMountKindNames, "volume"));
}

}  // namespace
}  // namespace cachewarden
