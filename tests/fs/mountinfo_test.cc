#include "fs/mountinfo.h"

#include <catch2/catch.hpp>

#include "base/text.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

MountTable Fixture(const std::string& name) {
  return ParseMountInfo(
      testing::ReadFile(testing::SourceDir() + "/tests/fixtures/mountinfo/" + name));
}

TEST_CASE("mountinfo fields parse with optional fields and the separator", "[mountinfo]") {
  auto t = ParseMountInfo(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n");
  REQUIRE(t.entries.size() == 1);
  const auto& e = t.entries[0];
  CHECK(e.id == 36);
  CHECK(e.parent == 35);
  CHECK(e.Device() == "98:0");
  CHECK(e.root == "/mnt1");
  CHECK(e.mount_point == "/mnt2");
  CHECK(e.options == "rw,noatime");
  CHECK(e.optional_fields == std::vector<std::string>{"master:1"});
  CHECK(e.fstype == "ext3");
  CHECK(e.source == "/dev/root");
  CHECK(e.super_options == "rw,errors=continue");
  CHECK_FALSE(e.ReadOnly());
}

TEST_CASE("mountinfo octal escapes decode and malformed lines are counted", "[mountinfo]") {
  auto t = Fixture("edge_cases.txt");
  CHECK(t.malformed_lines == 3);
  REQUIRE(t.entries.size() == 9);
  CHECK(t.FindById(11)->mount_point == "/mnt/with space");
  CHECK(t.FindById(11)->source == "my\tsrc");
  CHECK(t.FindById(11)->optional_fields.size() == 4);
  CHECK(t.FindById(12)->mount_point == "/mnt/back\\slash");
  CHECK(t.FindById(13)->mount_point == "/mnt/new\nline");
  CHECK(t.FindById(20)->super_options.find("lowerdir+=/b") != std::string::npos);
  CHECK(UnescapeMountField("a\\04") == "a\\04");  // truncated escape kept
  CHECK(UnescapeMountField("a\\999b") == "a\\999b");
}

TEST_CASE("the holder of a path is the longest prefix and the top of a stack", "[mountinfo]") {
  auto t = Fixture("edge_cases.txt");
  CHECK(t.Holder("/stack/x")->source == "second");
  CHECK(t.Holder("/hidden/deep/file")->source == "cover");
  CHECK(t.Holder("/mnt/with space/a")->id == 11);
  CHECK(t.Holder("/mnt/with")->id == 10);
  CHECK(t.Holder("/stackx")->id == 10);
}

TEST_CASE("a later mount on / is the root that paths resolve from", "[mountinfo]") {
  auto t = ParseMountInfo(
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:1 / /tmp rw - ext4 /dev/sda1 rw\n3 1 0:50 / / rw "
      "- overlay overlay rw,lowerdir=/a\n");
  CHECK(t.RootMount()->id == 3);
  CHECK(t.Holder("/tmp/earthly")->id == 3);
}

TEST_CASE("mounts on / whose parents form a cycle still resolve (found by the fuzzer)",
          "[mountinfo]") {
  // Each "/" mount names the other as its parent; following the stack on "/" used to loop forever.
  auto t = ParseMountInfo("1 2 0:1 / / rw - ext4 /dev/a rw\n2 1 0:2 / / rw - ext4 /dev/b rw\n");
  REQUIRE(t.entries.size() == 2);
  REQUIRE(t.RootMount() != nullptr);
  CHECK(t.Holder("/x") != nullptr);
}

TEST_CASE("very long option strings parse", "[mountinfo]") {
  std::string lower = "lowerdir=";
  for (int i = 0; i < 2000; ++i)
    lower += "/var/lib/docker/overlay2/l/LAYER" + std::to_string(i) + ":";
  lower.pop_back();
  auto t = ParseMountInfo("5 1 0:88 / / rw - overlay overlay rw," + lower + ",xino=off\n");
  REQUIRE(t.entries.size() == 1);
  CHECK(t.entries[0].super_options.size() > 60000);
  CHECK(t.malformed_lines == 0);
}

TEST_CASE("read-only shows in the per-mount or superblock options", "[mountinfo]") {
  auto t = ParseMountInfo(
      "1 0 8:1 / / ro,relatime - ext4 /dev/sda1 rw\n2 1 8:1 / /a rw - ext4 /dev/sda1 ro\n3 1 8:1 / "
      "/b rw,rooted - ext4 /dev/sda1 rw,errors=ro\n");
  CHECK(t.entries[0].ReadOnly());
  CHECK(t.entries[1].ReadOnly());
  CHECK_FALSE(t.entries[2].ReadOnly());
}

TEST_CASE("paths are under a prefix by whole components", "[mountinfo]") {
  CHECK(PathIsUnder("/a/b", "/a"));
  CHECK(PathIsUnder("/a", "/a"));
  CHECK(PathIsUnder("/a", "/a/"));
  CHECK_FALSE(PathIsUnder("/ab", "/a"));
  CHECK(PathIsUnder("/anything", "/"));
}

}  // namespace
}  // namespace cachewarden
