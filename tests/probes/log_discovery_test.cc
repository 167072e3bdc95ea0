#include "probes/log_discovery.h"

#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "probes/logs.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::ChildProcess;
using testing::TempDir;
using testing::WaitUntil;
using testing::WriteFile;

// kubelet's layout: <pods>/<namespace>_<pod>_<uid>/<container>/<restart count>.log.
void PodLog(const std::string& pods, const std::string& pod, const std::string& container,
            const std::string& file, const std::string& text = "") {
  std::filesystem::create_directories(pods + "/" + pod + "/" + container);
  WriteFile(pods + "/" + pod + "/" + container + "/" + file, text);
}

LogDiscoveryOptions Read(const nlohmann::json& discover) {
  nlohmann::json section = {{"discover", discover}};
  nlohmann::json effective;
  ConfigReader reader(&section, "/probes/logs", &effective);
  LogDiscoveryOptions o = ReadLogDiscoveryOptions(reader);
  reader.Finish();
  return o;
}

std::string ProcRootWithout() {  // a /proc with no process: only the pod logs count
  static TempDir empty;
  return empty.path();
}

TEST_CASE("log discovery: the sidecar's own pod, its current log and not a rotated one",
          "[logs][discovery]") {
  TempDir dir;
  const std::string pods = dir / "pods";
  PodLog(pods, "ci_buildkit-0_1111", "buildkitd", "0.log");
  PodLog(pods, "ci_buildkit-0_1111", "buildkitd", "1.log");
  PodLog(pods, "ci_buildkit-0_1111", "buildkitd", "1.log.20261201-101010");
  PodLog(pods, "ci_buildkit-0_1111", "cachewarden", "0.log");
  PodLog(pods, "ci_buildkit-1_2222", "buildkitd", "4.log");  // another pod: not this sidecar's
  auto o = Read({{"pods_dir", pods},
                 {"pod", {{"namespace", "ci"}, {"name", "buildkit-0"}, {"uid", "1111"}}}});
  std::string looked;
  auto found = DiscoverLogs(o, ProcRootWithout(), &looked);
  REQUIRE(found.size() == 1);
  CHECK(found[0].path == pods + "/ci_buildkit-0_1111/buildkitd/1.log");
  CHECK(found[0].source == "pod");
  CHECK_THAT(looked, Catch::Contains(pods + "/ci_buildkit-0_1111/buildkitd/"));
}

TEST_CASE("log discovery: without the pod's identity, every pod with a buildkitd container",
          "[logs][discovery]") {
  TempDir dir;
  const std::string pods = dir / "pods";
  PodLog(pods, "ci_a_1", "buildkitd", "0.log");
  PodLog(pods, "ci_b_2", "buildkitd", "2.log");
  PodLog(pods, "ci_c_3", "app", "0.log");
  auto o = Read({{"pods_dir", pods}, {"pod", {{"namespace", ""}, {"name", ""}, {"uid", ""}}}});
  std::string looked;
  auto found = DiscoverLogs(o, ProcRootWithout(), &looked);
  REQUIRE(found.size() == 2);
  CHECK(found[0].path == pods + "/ci_a_1/buildkitd/0.log");
  CHECK(found[1].path == pods + "/ci_b_2/buildkitd/2.log");
  CHECK_THAT(looked, Catch::Contains(pods + "/*/buildkitd/"));
}

TEST_CASE("log discovery: the pod's identity comes from the downward API's variables",
          "[logs][discovery]") {
  ::setenv("POD_NAMESPACE", "ci", 1);
  ::setenv("POD_NAME", "buildkit-0", 1);
  ::setenv("POD_UID", "9f1c", 1);
  auto o = Read(nlohmann::json::object());
  ::unsetenv("POD_NAMESPACE");
  ::unsetenv("POD_NAME");
  ::unsetenv("POD_UID");
  CHECK(o.pod_namespace == "ci");
  CHECK(o.pod_name == "buildkit-0");
  CHECK(o.pod_uid == "9f1c");
  CHECK(o.pods_dir == "/var/log/pods");
  CHECK(o.container == "buildkitd");
}

TEST_CASE("log discovery: a bad setting names its key", "[logs][discovery][config]") {
  CHECK_THROWS_WITH(Read({{"pods_dir", "var/log/pods"}}),
                    Catch::StartsWith("/probes/logs/discover/pods_dir: expected an absolute path"));
  CHECK_THROWS_WITH(Read({{"pod", {{"uid", "a_b"}}}}),
                    Catch::StartsWith("/probes/logs/discover/pod/uid: expected a Kubernetes"));
  CHECK_THROWS_WITH(Read({{"container", "a/b"}}),
                    Catch::StartsWith("/probes/logs/discover/container: expected a container"));
}

// A real process named buildkitd (a copy of dash) whose stdout and stderr are files, as when it
// is started with `> file`; seen through a proc root that holds only it.
struct ShellBuildkitd {
  TempDir dir;
  std::string proc = dir / "proc";
  std::unique_ptr<ChildProcess> child;

  explicit ShellBuildkitd(const std::string& script) {
    const std::string binary = dir / "buildkitd";
    std::filesystem::copy_file("/bin/dash", binary);
    ::chmod(binary.c_str(), 0755);
    std::filesystem::create_directory(proc);
    std::filesystem::create_directory(dir / "out");
    child =
        std::make_unique<ChildProcess>(std::vector<std::string>{binary, "-c", script}, dir / "out");
    const std::string self = "/proc/" + std::to_string(child->pid());
    REQUIRE(WaitUntil([&] { return testing::ReadFile(self + "/comm") == "buildkitd\n"; }));
    std::filesystem::create_symlink(self, proc + "/" + std::to_string(child->pid()));
  }
  ~ShellBuildkitd() { child->Signal(SIGKILL); }
};

TEST_CASE("log discovery: a buildkitd whose stdout is a file is followed through /proc/<pid>/fd",
          "[logs][discovery]") {
  TempDir pods;
  ShellBuildkitd bk(
      "echo \"rm: can't remove '/tmp/earthly/dind/4f2a/overlay2/x': Resource busy\"; "
      "while :; do sleep 5; done");
  nlohmann::json section = {
      {"discover", {{"pods_dir", pods.path()}, {"pod", {{"namespace", ""}}}}}};
  nlohmann::json effective;
  ConfigReader reader(&section, "/probes/logs", &effective);
  auto probe = NewLogsProbe(ReadLogsOptions(reader));
  ProbeContext ctx;
  // The agent's first run sees no buildkitd; the process found afterwards has its log read from
  // its start (one there at the first run is read from its end, like a configured file).
  TempDir empty_proc;
  ctx.proc_root = empty_proc.path();
  {
    std::shared_ptr<const ProbeData> out;
    REQUIRE(probe->Collect(ctx, &out).ok());
    CHECK(std::dynamic_pointer_cast<const LogsData>(out)->files.empty());
  }
  ctx.proc_root = bk.proc;
  std::shared_ptr<const LogsData> d;
  REQUIRE(WaitUntil([&] {
    std::shared_ptr<const ProbeData> out;
    REQUIRE(probe->Collect(ctx, &out).ok());
    d = std::dynamic_pointer_cast<const LogsData>(out);
    return d->counts[static_cast<std::size_t>(LogEventKind::kDindBusy)] == 1;
  }));
  REQUIRE_FALSE(d->files.empty());
  CHECK(d->files[0].source == "process");
  CHECK(d->files[0].path == bk.proc + "/" + std::to_string(bk.child->pid()) + "/fd/1");
  CHECK_THAT(d->files[0].detail, Catch::Contains("stdout -> " + bk.dir.path()));
  REQUIRE(d->recent.size() == 1);
  CHECK(d->recent[0].entry_id == "4f2a");
  CHECK_THAT(d->Summary(), Catch::StartsWith("following process pid "));
}

TEST_CASE("logs: no file configured or found is said, with where it looked", "[logs][discovery]") {
  TempDir pods;
  nlohmann::json section = {{"discover", {{"pods_dir", pods.path()}, {"process", "nosuchproc"}}}};
  nlohmann::json effective;
  ConfigReader reader(&section, "/probes/logs", &effective);
  auto probe = NewLogsProbe(ReadLogsOptions(reader));
  ProbeContext ctx;
  std::shared_ptr<const ProbeData> out;
  REQUIRE(probe->Collect(ctx, &out).ok());
  auto d = std::dynamic_pointer_cast<const LogsData>(out);
  CHECK(d->files.empty());
  CHECK_THAT(d->Summary(),
             Catch::StartsWith("no buildkitd log configured or found (looked in " + pods.path()) &&
                 Catch::Contains("a process named nosuchproc") &&
                 Catch::EndsWith("set probes.logs.files"));
  CHECK(d->ToJson()["discovery"].get<std::string>().starts_with("looked in "));
}

TEST_CASE("logs: a pod log that appears later is read from its start, a restart's log replaces it",
          "[logs][discovery]") {
  TempDir dir;
  const std::string pods = dir / "pods";
  const std::string pod = "ci_bk-0_77";
  PodLog(pods, pod, "buildkitd", "0.log",
         "2026-12-02T08:00:00.000000000Z stderr F gc error: before the agent\n");
  nlohmann::json section = {{"discover",
                             {{"pods_dir", pods},
                              {"process", "nosuchproc"},
                              {"pod", {{"namespace", "ci"}, {"name", "bk-0"}, {"uid", "77"}}}}}};
  nlohmann::json effective;
  ConfigReader reader(&section, "/probes/logs", &effective);
  auto probe = NewLogsProbe(ReadLogsOptions(reader));
  ProbeContext ctx;
  auto run = [&] {
    std::shared_ptr<const ProbeData> out;
    REQUIRE(probe->Collect(ctx, &out).ok());
    return std::dynamic_pointer_cast<const LogsData>(out);
  };
  auto d = run();  // there when the agent started: from its end, like a configured file
  CHECK(d->counts[static_cast<std::size_t>(LogEventKind::kGcError)] == 0);
  REQUIRE(d->files.size() == 1);
  CHECK(d->files[0].source == "pod");
  // The container restarted: kubelet writes 1.log, which the agent had never seen.
  PodLog(pods, pod, "buildkitd", "1.log",
         "2026-12-02T08:05:00.000000000Z stderr F gc error: after the restart\n");
  d = run();
  REQUIRE(d->files.size() == 1);
  CHECK(d->files[0].path == pods + "/" + pod + "/buildkitd/1.log");
  CHECK(d->counts[static_cast<std::size_t>(LogEventKind::kGcError)] == 1);
}

}  // namespace
}  // namespace cachewarden
