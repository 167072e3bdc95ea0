// The seed's own failure, for real (issue 17, "A real dind leak"): a dockerd whose data root is
// <cache>/dind/<id>, as Earthly's WITH DOCKER runs one, starts a container (its overlay is mounted
// under the entry), is killed with SIGKILL, and the overlay stays mounted in the mount namespace
// it ran in (tests/support/dockerd.h, hold_namespaces). `rm -rf` of the entry then fails with the
// kernel's own EBUSY, into a log the agent follows. The hand-made fixtures of the same story
// (a tmpfs under an entry: check_cli_test, gc tests) stay; this one uses the real thing.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fs/mount_namespaces.h"
#include "tests/support/dockerd.h"
#include "tests/support/gc_tree.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

namespace cachewarden {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;

constexpr const char* kEntry = "9c4e1f2a7b3d";

// The mount points at or under `path` in the mount namespace of `pid`.
std::vector<std::string> MountsUnder(pid_t pid, const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(testing::ReadFile("/proc/" + std::to_string(pid) + "/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    if (point == path || point.starts_with(path + "/")) out.push_back(point);
  }
  return out;
}

// The mountinfo lines of the mount namespace of `pid` whose mount point is not under `path`.
std::vector<std::string> MountsOutside(pid_t pid, const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(testing::ReadFile("/proc/" + std::to_string(pid) + "/mountinfo"));
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    if (point != path && !point.starts_with(path + "/")) out.push_back(line);
  }
  return out;
}

const nlohmann::json* PlanEntry(const nlohmann::json& run, const std::string& name) {
  for (const auto& e : run["plan"]["entries"]) {
    if (e["entry"] == name) return &e;
  }
  return nullptr;
}

TEST_CASE(
    "a real dind leak: dockerd SIGKILLed, rm -rf gets EBUSY, the agent sees it and GC frees it",
    "[dind][gc][logs][dockerd][root][e2e]") {
  if (const std::string why = testing::TestDockerd::Unavailable(); !why.empty()) CW_SKIP(why);
  testing::TempDir dir;
  const std::string cache = dir / "cache";
  const std::string entry = cache + "/dind/" + kEntry;
  // What lies beside the entry, and must not change.
  testing::MakeDirs(cache + "/buildkit/snapshots");
  testing::Touch(cache + "/buildkit/metadata_v2.db", "bolt");
  testing::Touch(cache + "/internal.earthly.version", "2");
  testing::MakeDirs(cache + "/dind/cache_keep/docker");
  testing::Touch(cache + "/dind/cache_keep/docker/layer", std::string(10000, 'k'));
  testing::AgeTree(cache + "/dind/cache_keep", 3 * 86400);

  testing::TestDockerd dind(testing::TestDockerd::Options{"{}", entry, true});
  std::string error;
  REQUIRE(dind.Start(&error));
  REQUIRE(dind.ImportBusybox("cw-busybox:1", &error));
  const ProcessResult run =
      dind.Docker({"run", "-d", "--network", "none", "cw-busybox:1", "busybox", "sleep", "600"});
  INFO(run.err << "\ndockerd's log:\n" << dind.Log());
  REQUIRE(run.exit_code == 0);
  const pid_t ns_pid = dind.namespace_pid();
  REQUIRE_FALSE(MountsUnder(ns_pid, entry + "/overlay2").empty());

  // WITH DOCKER's teardown when dockerd hangs: "dockerd did not exit after 30 seconds,
  // force-exiting"; then the step's processes end, the mounts stay.
  REQUIRE(dind.KillDockerd(&error));
  const std::vector<std::string> leaked = MountsUnder(ns_pid, entry);
  INFO("mounts left under the entry:\n" << fmt::format("{}", fmt::join(leaked, "\n")));
  REQUIRE_FALSE(leaked.empty());
  const std::string log = dir / "buildkitd.log";
  testing::WriteFile(log,
                     "time=\"2026-01-01T00:00:00Z\" level=info msg=\"running server on "
                     "/run/buildkit/buildkitd.sock\"\n");
  const ProcessResult rm = dind.RunInside({"/bin/sh", "-c", "rm -rf " + entry + " 2>>" + log});
  CHECK(rm.exit_code != 0);
  const std::string rm_said = testing::ReadFile(log);
  INFO(rm_said);
  REQUIRE(rm_said.find("Device or resource busy") != std::string::npos);
  REQUIRE(fs::exists(entry));

  const std::string config = dir / "config.json";
  const nlohmann::json logs = {{"files", {{{"path", log}, {"start_at", "beginning"}}}}};
  testing::WriteFile(config, nlohmann::json{{"probes", {{"logs", logs}}}}.dump());

  SECTION("check, beside the namespace: the stale mount with its pid and namespace, both alerts") {
    const ProcessResult c = testing::RunProcess(
        {testing::BinaryPath(), "check", "--json", "--config", config, "--root", cache});
    INFO(c.err);
    const nlohmann::json report = nlohmann::json::parse(c.out);
    const auto& dind_data = report["probes"]["dind"]["data"];
    INFO(dind_data.dump(2));
    REQUIRE(dind_data["mounts"].size() >= 1);
    const std::uint64_t ns = ParseNamespaceLink(
        fs::read_symlink("/proc/" + std::to_string(ns_pid) + "/ns/mnt").string());
    for (const auto& m : dind_data["mounts"]) {
      CHECK(m["scope"] == "other");
      CHECK(m["entry_id"] == kEntry);
      CHECK(m["mount_namespace"].get<std::uint64_t>() == ns);
      // The first process met in that namespace: tini (its pid 1) or the holder under it.
      const pid_t pid = m["pid"].get<pid_t>();
      CHECK(ParseNamespaceLink(
                fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/mnt").string()) == ns);
    }
    bool overlay = false;
    for (const auto& m : dind_data["mounts"]) overlay = overlay || m["fstype"] == "overlay";
    CHECK(overlay);

    int busy = 0;
    for (const auto& e : report["probes"]["logs"]["data"]["recent_events"]) {
      if (e["kind"] != "dind_busy") continue;
      ++busy;
      CHECK(e["entry_id"] == kEntry);
    }
    CHECK(busy >= 1);
    bool stale_alert = false, busy_alert = false;
    for (const auto& f : report["findings"]) {
      const auto summary = f["summary"].get<std::string>();
      if (f["severity"] == "ok" || summary.find(kEntry) == std::string::npos) continue;
      stale_alert = stale_alert || f["source"] == "DindStaleMounts";
      busy_alert = busy_alert || f["source"] == "DindCleanupResourceBusy";
    }
    CHECK(stale_alert);
    CHECK(busy_alert);
    CHECK(c.exit_code == 1);
  }

  SECTION(
      "gc in the leak's namespace: without unmount_stale it skips (mount_point), with it it "
      "frees") {
    auto gc = [&](bool unmount_stale) {
      const nlohmann::json policy = {{"name", "leak"},
                                     {"path", "dind"},
                                     {"exclude", {"cache_*"}},
                                     {"min_age", "0s"},
                                     {"unmount_stale", unmount_stale},
                                     {"triggers", {{"older_than", "0s"}}}};
      const std::string gc_config = dir / (unmount_stale ? "gc-unmount.json" : "gc.json");
      testing::WriteFile(gc_config, nlohmann::json{{"gc", {{"policies", {policy}}}}}.dump());
      const ProcessResult r = dind.RunInside(
          {testing::BinaryPath(), "gc", "--json", "--config", gc_config, "--root", cache});
      INFO(r.err);
      return nlohmann::json::parse(r.out)["runs"][0];
    };
    const auto before = testing::TreeDigest(cache, {entry});
    const auto mounts_before = MountsOutside(ns_pid, entry);

    const nlohmann::json kept = gc(false);
    INFO(kept.dump(2));
    const nlohmann::json* skipped = PlanEntry(kept, kEntry);
    REQUIRE(skipped != nullptr);
    CHECK((*skipped)["decision"] == "skip");
    // dockerd bind-mounts its data root onto itself (its root propagation setup, Docker 20.10), so
    // the entry is itself a mount point: the skip is `mount_point`, before the mounts inside.
    CHECK((*skipped)["skip_reason"] == "mount_point");
    CHECK(fs::exists(entry));
    CHECK(MountsUnder(ns_pid, entry) == leaked);

    const nlohmann::json freed = gc(true);
    INFO(freed.dump(2));
    const nlohmann::json* planned = PlanEntry(freed, kEntry);
    REQUIRE(planned != nullptr);
    CHECK((*planned)["decision"] == "delete");
    CHECK(freed["result"] == "freed");
    CHECK_FALSE(fs::exists(entry));
    CHECK(MountsUnder(ns_pid, entry).empty());
    CHECK(testing::TreeDigest(cache, {entry}) == before);
    CHECK(MountsOutside(ns_pid, entry) == mounts_before);
    const nlohmann::json* keep = PlanEntry(freed, "cache_keep");
    REQUIRE(keep != nullptr);
    CHECK((*keep)["decision"] == "skip");
  }
}

}  // namespace
}  // namespace cachewarden
