// The real binary's `check --json` with the cache on real mounts made in the test's private mount
// namespace (children of the test share it), on captured mountinfo, and on a real stale dind mount.
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fs/mountinfo.h"
#include "probes/dind.h"
#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

struct CheckRun {
  int exit_code = -1;
  nlohmann::json report;
  std::string err;  // the binary's stderr
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
  run.err = r.err;
  INFO(r.err);
  run.report = nlohmann::json::parse(r.out);
  return run;
}

TEST_CASE("check: a cache on its own ext4 loop device is a dedicated volume",
          "[mounts][root][e2e]") {
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

TEST_CASE("check: a cache on tmpfs is a warning that says so", "[mounts][root][e2e]") {
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

TEST_CASE("check: a bind mount of a host directory is a host bind", "[mounts][root][e2e]") {
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

TEST_CASE("check: a read-only cache is critical", "[mounts][root][e2e]") {
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

TEST_CASE("check: a cache on a container's overlay root is critical and says why",
          "[mounts][root][e2e]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::string line;
  REQUIRE(testing::MountOverlay(dir.path(), &line) == "");
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
  // The cache root exists on the overlay: a root that does not exist is reported as only that.
  std::filesystem::create_directories(dir / "merged/tmp/earthly");
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
          "[mounts][e2e]") {
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
    // The fixtures hold the cache at /tmp/earthly, which need not exist here (a missing root is
    // one UNKNOWN line and nothing else): they are moved to a cache directory the test made.
    const std::string root = dir / "earthly";
    std::filesystem::create_directories(root);
    std::string info =
        testing::ReadFile(testing::SourceDir() + "/tests/fixtures/mountinfo/" + c.fixture);
    for (std::size_t at; (at = info.find("/tmp/earthly")) != std::string::npos;) {
      info.replace(at, std::string_view("/tmp/earthly").size(), root);
    }
    testing::WriteFile(dir / "proc/self/mountinfo", info);
    auto run = RunCheck(
        dir, root, {{"proc_root", dir / "proc"}, {"probes", {{"dind", {{"enabled", false}}}}}});
    auto m = run.Mounts();
    CHECK(m["kind"] == c.kind);
    CHECK(run.Finding("CacheNotOnVolume", c.severity) != nullptr);
  }
}

TEST_CASE("a real Device or resource busy: the stale mount and the log line, with the entry id",
          "[dind][logs][root][e2e]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  const std::string root = dir / "cache";
  const std::string entry = "5f1c0de5a1";
  fs::create_directories(root + "/dind/" + entry + "/tmp.AbCd/overlay2/merged");
  fs::create_directories(root + "/dind/cache_keep");
  REQUIRE(testing::MountTmpfs(root + "/dind/" + entry + "/tmp.AbCd/overlay2/merged", "8m") == "");
  testing::WriteFile(root + "/dind/" + entry + "/tmp.AbCd/overlay2/merged/f", "x");
  // What dockerd-wrapper.sh does at teardown, for real.
  auto rm = testing::RunProcess({"rm", "-rf", root + "/dind/" + entry});
  REQUIRE(rm.exit_code != 0);
  REQUIRE(rm.err.find("Device or resource busy") != std::string::npos);
  const std::string log = dir / "buildkitd.log";
  testing::WriteFile(log,
                     "time=\"2026-01-01T00:00:00Z\" level=info msg=\"running server on "
                     "/run/buildkit/buildkitd.sock\"\n" +
                         rm.err);

  nlohmann::json config = {
      {"probes", {{"logs", {{"files", {{{"path", log}, {"start_at", "beginning"}}}}}}}}};
  auto run = RunCheck(dir, root, config);
  INFO(run.err);
  const nlohmann::json& report = run.report;
  auto dind = report["probes"]["dind"]["data"];
  INFO(dind.dump(2));
  REQUIRE(dind["mounts"].size() == 1);
  auto m = dind["mounts"][0];
  CHECK(m["scope"] == "own");
  CHECK(m["entry_id"] == entry);
  CHECK(m["fstype"] == "tmpfs");
  CHECK(m["pid"].get<int>() > 0);
  auto own_ns = ParseNamespaceLink(fs::read_symlink("/proc/self/ns/mnt").string());
  CHECK(m["mount_namespace"].get<std::uint64_t>() == own_ns);
  CHECK(m["command"] == "cachewarden");

  auto events = report["probes"]["logs"]["data"]["recent_events"];
  INFO(events.dump(2));
  int busy = 0;
  for (const auto& e : events) {
    if (e["kind"] != "dind_busy") continue;
    ++busy;
    CHECK(e["entry_id"] == entry);
  }
  CHECK(busy >= 1);
  CHECK(report["probes"]["logs"]["data"]["counts"]["dind_busy"] == busy);

  bool dind_finding = false, log_finding = false;
  for (const auto& f : report["findings"]) {
    auto summary = f["summary"].get<std::string>();
    if (f["source"] == "DindStaleMounts" && summary.find(entry) != std::string::npos)
      dind_finding = true;
    if (f["source"] == "DindCleanupResourceBusy" && summary.find(entry) != std::string::npos)
      log_finding = true;
  }
  CHECK(dind_finding);
  CHECK(log_finding);
  CHECK(run.exit_code == 1);
}

}  // namespace
}  // namespace cachewarden
