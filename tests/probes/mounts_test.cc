// The real binary's `check --json` with the cache on real mounts made in the test's private mount
// namespace (children of the test share it).
#include "probes/mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::TempDir;

struct CheckRun {
  int exit_code = -1;
  nlohmann::json report;
  nlohmann::json Mounts() const { return report["probes"]["mounts"]["data"]; }
  // The first finding of `rule` (its source is the rule and its labels) at `severity`, or null.
  nlohmann::json Finding(const std::string& rule, const std::string& severity) const {
    for (const auto& f : report["findings"]) {
      const auto source = f["source"].get<std::string>();
      if ((source == rule || source.starts_with(rule + " ")) && f["severity"] == severity) return f;
    }
    return nullptr;
  }
};

CheckRun RunCheck(const TempDir& dir, const std::string& root,
                  const nlohmann::json& config = nlohmann::json::object()) {
  std::string cfg = dir / "config.json";
  testing::WriteFile(cfg, config.dump());
  auto r = testing::RunProcess(
      {testing::BinaryPath(), "check", "--json", "--config", cfg, "--root", root});
  CheckRun run;
  run.exit_code = r.exit_code;
  INFO(r.err);
  run.report = nlohmann::json::parse(r.out);
  return run;
}

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

TEST_CASE("check: a cache on its own ext4 loop device is a dedicated volume", "[mounts][root]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::filesystem::create_directories(dir / "cache");
  REQUIRE(testing::MountExt4Loop(dir / "disk.img", dir / "cache", 64) == "");
  auto run = RunCheck(dir, dir / "cache");
  CHECK(run.Mounts()["kind"] == "dedicated_device");
  CHECK(run.Mounts()["is_volume"] == true);
  CHECK(run.Mounts()["mount"]["fstype"] == "ext4");
  CHECK(run.Mounts()["statfs_type"] == "0xef53");
  CHECK(run.Finding("CacheNotOnVolume", "ok") != nullptr);
}

TEST_CASE("check: a cache on tmpfs is a warning that says so", "[mounts][root]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::filesystem::create_directories(dir / "cache");
  REQUIRE(testing::MountTmpfs(dir / "cache", "16m") == "");
  auto run = RunCheck(dir, dir / "cache");
  CHECK(run.Mounts()["kind"] == "tmpfs");
  CHECK(run.Mounts()["statfs_agrees"] == true);
  CHECK(run.exit_code == 1);
  auto f = run.Finding("CacheNotOnVolume", "warning");
  REQUIRE(f != nullptr);
  CHECK(f["summary"].get<std::string>().find("memory-backed") != std::string::npos);
}

TEST_CASE("check: a bind mount of a host directory is a host bind", "[mounts][root]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::filesystem::create_directories(dir / "host/data");
  std::filesystem::create_directories(dir / "cache");
  REQUIRE(::mount((dir / "host/data").c_str(), (dir / "cache").c_str(), nullptr, MS_BIND,
                  nullptr) == 0);
  auto run = RunCheck(dir, dir / "cache");
  CHECK(run.Mounts()["kind"] == "host_bind");
  CHECK(run.Mounts()["mount"]["mount_point"] == dir / "cache");
  CHECK(run.Mounts()["is_volume"] == true);
}

TEST_CASE("check: a read-only cache is critical", "[mounts][root]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::filesystem::create_directories(dir / "cache");
  REQUIRE(testing::MountTmpfs(dir / "cache", "16m") == "");
  REQUIRE(::mount(nullptr, (dir / "cache").c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY,
                  nullptr) == 0);
  auto run = RunCheck(dir, dir / "cache");
  CHECK(run.Mounts()["readonly"] == true);
  CHECK(run.exit_code == 2);
  auto f = run.Finding("CacheNotOnVolume", "critical");
  REQUIRE(f != nullptr);
  CHECK(f["summary"].get<std::string>().find("read-only") != std::string::npos);
}

// Mounts an overlay at dir/merged; returns the real mountinfo line for it.
std::string MountOverlay(const TempDir& dir) {
  for (auto d : {"lower", "upper", "work", "merged"}) std::filesystem::create_directories(dir / d);
  std::string err = testing::Mount("overlay", "overlay", dir / "merged",
                                   "lowerdir=" + (dir / "lower") + ",upperdir=" + (dir / "upper") +
                                       ",workdir=" + (dir / "work"));
  REQUIRE(err == "");
  std::istringstream in(testing::ReadFile("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    auto t = ParseMountInfo(line);
    if (!t.entries.empty() && t.entries[0].mount_point == dir / "merged") return line;
  }
  FAIL("overlay not in mountinfo");
  return "";
}

TEST_CASE("an overlay mounted for real classifies as a container root", "[mounts][root]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  MountOverlay(dir);
  ProbeContext ctx;
  ctx.cache_root = dir / "merged/tmp/earthly";
  MountsData data;
  REQUIRE(CollectMounts(ctx, &data).ok());
  CHECK(data.holder.fstype == "overlay");
  CHECK(data.verdict.kind == MountKind::kContainerRoot);
  CHECK(data.statfs_type == kOverlayfsMagic);
  CHECK(data.verdict.statfs_agrees);
}

TEST_CASE("check: a cache on a container's overlay root is critical and says why",
          "[mounts][root]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::string line = MountOverlay(dir);
  // Present the overlay as this process's root, as inside a container: the real line with its mount
  // point rewritten to "/" and no parent, in a /proc of our own.
  auto fields = ParseMountInfo(line).entries.at(0);
  std::string escaped_point = fields.mount_point;
  auto at = line.find(" " + escaped_point + " ");
  REQUIRE(at != std::string::npos);
  line.replace(at + 1, escaped_point.size(), "/");
  line.replace(line.find(' ') + 1, line.find(' ', line.find(' ') + 1) - line.find(' ') - 1, "0");
  std::filesystem::create_directories(dir / "proc/self");
  testing::WriteFile(dir / "proc/self/mountinfo", line + "\n");
  auto run = RunCheck(dir, dir / "merged/tmp/earthly", {{"proc_root", dir / "proc"}});
  CHECK(run.Mounts()["kind"] == "container_root");
  CHECK(run.Mounts()["mount"]["mount_point"] == "/");
  CHECK(run.Mounts()["statfs_type"] == "0x794c7630");
  CHECK(run.exit_code == 2);
  auto f = run.Finding("CacheNotOnVolume", "critical");
  REQUIRE(f != nullptr);
  auto remedy = f["remedy"].get<std::string>();
  CHECK(remedy.find("native") != std::string::npos);
  CHECK(remedy.find("Resource busy") != std::string::npos);
  CHECK(remedy.find("PersistentVolumeClaim") != std::string::npos);
}

TEST_CASE("check: captured emptyDir, Docker volume, EBS, NFS and FUSE mountinfo through the binary",
          "[mounts]") {
  struct Case {
    const char* fixture;
    const char* kind;
    const char* severity;
  } cases[] = {
      {"k8s_emptydir_disk.txt", "k8s_emptydir", "warning"},
      {"k8s_emptydir_memory.txt", "k8s_emptydir_memory", "warning"},
      {"docker_volume.txt", "docker_volume", "ok"},
      {"ebs_pv.txt", "dedicated_device", "ok"},
      {"nfs.txt", "network", "warning"},
      {"fuse_s3fs.txt", "fuse", "warning"},
  };
  for (const auto& c : cases) {
    INFO(c.fixture);
    TempDir dir;
    std::filesystem::create_directories(dir / "proc/self");
    std::filesystem::copy_file(testing::SourceDir() + "/tests/fixtures/mountinfo/" + c.fixture,
                               dir / "proc/self/mountinfo");
    // The fixtures hold the cache at /tmp/earthly; statfs of a path that does not exist here falls
    // back to its real ancestor (/tmp), which agrees with none of them but contradicts none either
    // (ext4 here).
    auto run =
        RunCheck(dir, "/tmp/earthly",
                 {{"proc_root", dir / "proc"}, {"probes", {{"dind", {{"enabled", false}}}}}});
    auto m = run.Mounts();
    CHECK(m["kind"] == c.kind);
    CHECK(run.Finding("CacheNotOnVolume", c.severity) != nullptr);
  }
}

}  // namespace
}  // namespace cachewarden
