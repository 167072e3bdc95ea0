#include "probes/buildkitd.h"

#include <prometheus/text_serializer.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/config_reader.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::ChildProcess;
using testing::TempDir;
using testing::WaitUntil;
using testing::WriteFile;

std::unique_ptr<Probe> MakeProbe(nlohmann::json section) {
  nlohmann::json effective;
  ConfigReader reader(&section, "/probes/buildkitd", &effective);
  auto probe = NewBuildkitdProbe(ReadBuildkitdOptions(reader));
  reader.Finish();
  return probe;
}

std::shared_ptr<const BuildkitdData> Run(Probe& probe, const ProbeContext& ctx) {
  std::shared_ptr<const ProbeData> out;
  Status s = probe.Collect(ctx, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return std::dynamic_pointer_cast<const BuildkitdData>(out);
}

std::string Metrics(const ProbeData& d) {
  MetricWriter w;
  d.ExportMetrics(w);
  return prometheus::TextSerializer().Serialize(w.Take());
}

std::string Comm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string line;
  std::getline(in, line);
  return line;
}

// Real processes named buildkitd (a copy of sleep), seen through a proc root that holds only them
// (symlinks to their /proc/<pid>), so that another buildkitd on the machine does not count.
struct RealBuildkitd {
  TempDir dir;
  std::string binary = dir / "buildkitd";
  std::string proc = dir / "proc";
  std::unique_ptr<ChildProcess> child;
  ProbeContext ctx;

  RealBuildkitd() {
    std::filesystem::copy_file("/bin/sleep", binary);
    ::chmod(binary.c_str(), 0755);
    std::filesystem::create_directory(proc);
    std::filesystem::create_symlink("/proc/stat", proc + "/stat");
    ctx.proc_root = proc;
  }
  void Start(const std::vector<std::string>& env = {}) {
    child =
        std::make_unique<ChildProcess>(std::vector<std::string>{binary, "600"}, dir.path(), env);
    const pid_t pid = child->pid();
    // Until exec, the child is still a copy of the test binary.
    REQUIRE(WaitUntil([&] { return Comm(pid) == "buildkitd"; }));
    std::filesystem::create_symlink("/proc/" + std::to_string(pid),
                                    proc + "/" + std::to_string(pid));
  }
  void Stop() {
    child->Signal(SIGKILL);
    int code = 0;
    REQUIRE(child->WaitExit(std::chrono::seconds(20), &code));
    std::filesystem::remove(proc + "/" + std::to_string(child->pid()));
  }
};

TEST_CASE("buildkitd: a real process is found, then absent, and a new one is a restart",
          "[buildkitd]") {
  RealBuildkitd b;
  FakeClock clock;
  b.ctx.clock = &clock;
  auto probe = MakeProbe({{"restart_threshold", 2}, {"restart_window", "15m"}});
  auto d = Run(*probe, b.ctx);
  CHECK(d->processes.empty());
  CHECK_FALSE(d->ToJson()["present"].get<bool>());

  b.Start();
  d = Run(*probe, b.ctx);
  REQUIRE(d->processes.size() == 1);
  CHECK(d->processes[0].pid == b.child->pid());
  CHECK(d->processes[0].slot == "0");
  CHECK(d->restarts == 0);  // first sight is not a restart
  // Its start time is this boot's btime plus its start ticks: within a minute of now.
  const double started = ToUnixSeconds(d->processes[0].started);
  const double now = ToUnixSeconds(std::chrono::system_clock::now());
  CHECK(started == Approx(now).margin(60));
  CHECK(d->processes[0].resident_bytes.value_or(0) > 0);

  b.Stop();
  d = Run(*probe, b.ctx);
  CHECK(d->processes.empty());
  CHECK(d->restarts == 0);

  b.Start();
  d = Run(*probe, b.ctx);
  REQUIRE(d->processes.size() == 1);
  CHECK(d->restarts == 1);
  CHECK_FALSE(d->crash_loop);

  // A second restart within the window, without a run in between: a crash loop.
  b.Stop();
  b.Start();
  clock.Advance(std::chrono::minutes(1));
  d = Run(*probe, b.ctx);
  CHECK(d->restarts == 2);
  CHECK(d->restarts_in_window == 2);
  CHECK(d->crash_loop);
  CHECK_THAT(Metrics(*d), Catch::Contains("cachewarden_buildkit_restarts_total 2") &&
                              Catch::Contains("cachewarden_buildkit_crash_loop 1") &&
                              Catch::Contains("cachewarden_buildkitd_processes 1"));
  // Once the window has passed the loop is over; the total stays.
  clock.Advance(std::chrono::minutes(16));
  d = Run(*probe, b.ctx);
  CHECK(d->restarts == 2);
  CHECK(d->restarts_in_window == 0);
  CHECK_FALSE(d->crash_loop);
}

TEST_CASE(
    "buildkitd: the entrypoint's variables are shown, a misspelt one is named, no other value",
    "[buildkitd]") {
  RealBuildkitd b;
  b.Start({"CACHE_SIZE_MB=1000", "BUILDKIT_TLS_ENABLED=true",
           "BUILDKIT_CACHE_MAX_SIZE_MB=5000-not-shown", "EARTHLY_RESET_TMPDIR=true",
           "BUILDKIT_DEBUG=false", "CACHEWARDEN_TEST_SECRET=hunter2"});
  auto probe = MakeProbe(nlohmann::json::object());
  auto d = Run(*probe, b.ctx);
  REQUIRE(d->processes.size() == 1);
  const auto& p = d->processes[0];
  CHECK(p.environ_readable);
  using Shown = std::vector<std::pair<std::string, std::string>>;
  CHECK(p.environment.shown == Shown{{"CACHE_SIZE_MB", "1000"}, {"BUILDKIT_TLS_ENABLED", "true"}});
  REQUIRE(p.environment.hints.size() == 2);
  CHECK(p.environment.hints[0].name == "BUILDKIT_CACHE_MAX_SIZE_MB");
  CHECK(p.environment.hints[0].did_you_mean == "CACHE_SIZE_MB");
  CHECK(p.environment.hints[1].name == "EARTHLY_RESET_TMPDIR");
  CHECK(p.environment.hints[1].did_you_mean == "EARTHLY_RESET_TMP_DIR");
  const std::string json = d->ToJson().dump();
  CHECK_THAT(json, Catch::Contains("did you mean CACHE_SIZE_MB?"));
  // The rest of environ never leaves the probe: not the secret, not even the misspelt value.
  CHECK_THAT(json, !Catch::Contains("hunter2") && !Catch::Contains("not-shown") &&
                       !Catch::Contains("PATH"));
  CHECK_THAT(Metrics(*d), Catch::Contains("cachewarden_buildkitd_environment_warnings 2"));
}

TEST_CASE("buildkitd: the real /proc is scanned in full", "[buildkitd]") {
  RealBuildkitd b;
  b.Start();
  ProbeContext ctx;  // /proc: other buildkitd processes on this machine may show too
  auto d = Run(*MakeProbe({{"max_processes", 64}}), ctx);
  bool ours = false;
  for (const auto& p : d->processes) ours = ours || p.pid == b.child->pid();
  CHECK(ours);
}

// A fake /proc with one buildkitd (pid 100) in cgroup `cgroup_line`, and a cgroup root.
struct FixtureBuildkitd {
  TempDir dir;
  ProbeContext ctx;
  std::string cgroups = dir / "cgroup";

  explicit FixtureBuildkitd(const std::string& cgroup_text) {
    std::filesystem::create_directories(dir / "proc/100");
    WriteFile(dir / "proc/stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n");
    WriteFile(dir / "proc/100/comm", "buildkitd\n");
    // starttime (field 22) 250 ticks; a command with a space and a ')' in it.
    WriteFile(dir / "proc/100/stat",
              "100 (buildkitd) S 1 100 100 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 12 0 250 1 2 3\n");
    WriteFile(dir / "proc/100/status",
              "Name:\tbuildkitd\nNSpid:\t100\t7\nVmRSS:\t  204800 kB\nThreads:\t12\n");
    WriteFile(dir / "proc/100/cgroup", cgroup_text);
    ctx.proc_root = dir / "proc";
  }
  std::unique_ptr<Probe> NewProbe() {
    return MakeProbe({{"cgroup_root", cgroups}, {"read_environment", false}});
  }
};

TEST_CASE("buildkitd: cgroup v2 memory.max, memory.current and oom_kill from memory.events",
          "[buildkitd][cgroup]") {
  FixtureBuildkitd f("0::/kubepods/pod1/buildkitd\n");
  const std::string cg = f.cgroups + "/kubepods/pod1/buildkitd";
  std::filesystem::create_directories(cg);
  WriteFile(cg + "/memory.max", "4294967296\n");
  WriteFile(cg + "/memory.current", "3221225472\n");
  WriteFile(cg + "/memory.events", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n");
  FakeClock clock;
  f.ctx.clock = &clock;
  auto probe = f.NewProbe();
  auto d = Run(*probe, f.ctx);
  REQUIRE(d->processes.size() == 1);
  const auto& p = d->processes[0];
  CHECK(p.namespace_pid == 7);
  CHECK(p.resident_bytes == 204800u * 1024);
  CHECK(ToUnixSeconds(p.started) == Approx(1700000000 + 250.0 / ::sysconf(_SC_CLK_TCK)));
  CHECK(p.cgroup.version == 2);
  CHECK(p.memory.limit_bytes == 4294967296u);
  CHECK(p.memory.usage_bytes == 3221225472u);
  CHECK(p.memory.oom_kills == 1u);
  CHECK(p.memory.error.empty());
  CHECK(d->oom_kills == 0);  // the kill before the first run has no known time

  WriteFile(cg + "/memory.events", "low 0\nhigh 0\nmax 12\noom 4\noom_kill 3\noom_group_kill 0\n");
  clock.Advance(std::chrono::seconds(15));
  d = Run(*probe, f.ctx);
  CHECK(d->oom_kills == 2);
  CHECK(d->last_oom_kill == clock.Now());
  const std::string metrics = Metrics(*d);
  CHECK_THAT(metrics,
             Catch::Contains("cachewarden_buildkit_oom_kills_total 2") &&
                 Catch::Contains("cachewarden_buildkitd_cgroup_oom_kills_total{slot=\"0\"} 3") &&
                 Catch::Contains("cachewarden_buildkitd_cgroup_memory_limit_bytes{slot=\"0\"}") &&
                 Catch::Contains("cachewarden_buildkitd_resident_memory_bytes{slot=\"0\"}"));
}

TEST_CASE("buildkitd: cgroup v1 memory controller, no limit, oom_kill from memory.oom_control",
          "[buildkitd][cgroup]") {
  FixtureBuildkitd f(
      "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n9:memory:/docker/abc\n0::/system.slice\n");
  const std::string cg = f.cgroups + "/memory/docker/abc";
  std::filesystem::create_directories(cg);
  WriteFile(cg + "/memory.limit_in_bytes", "9223372036854771712\n");
  WriteFile(cg + "/memory.usage_in_bytes", "1073741824\n");
  WriteFile(cg + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  auto probe = f.NewProbe();
  auto d = Run(*probe, f.ctx);
  REQUIRE(d->processes.size() == 1);
  const auto& p = d->processes[0];
  CHECK(p.cgroup.version == 1);
  CHECK(p.cgroup.path == "/docker/abc");
  CHECK_FALSE(p.memory.limit_bytes);  // no limit
  CHECK(p.memory.usage_bytes == 1073741824u);
  CHECK(p.memory.oom_kills == 0u);
  CHECK_THAT(Metrics(*d), !Catch::Contains("cachewarden_buildkitd_cgroup_memory_limit_bytes"));
  WriteFile(cg + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  d = Run(*probe, f.ctx);
  CHECK(d->oom_kills == 1);
}

TEST_CASE("buildkitd: a cgroup outside the agent's cgroup namespace is not followed",
          "[buildkitd][cgroup]") {
  FixtureBuildkitd f("0::/../../kubepods/pod1\n");
  auto d = Run(*f.NewProbe(), f.ctx);
  REQUIRE(d->processes.size() == 1);
  CHECK_THAT(d->processes[0].memory.error, Catch::Contains("outside"));
  CHECK(d->processes[0].memory.dir.empty());
}

TEST_CASE("buildkitd: config is strict", "[buildkitd][config]") {
  auto read = [](nlohmann::json section) {
    nlohmann::json effective;
    ConfigReader reader(&section, "/probes/buildkitd", &effective);
    ReadBuildkitdOptions(reader);
    reader.Finish();
  };
  CHECK_NOTHROW(read({{"process", "buildkitd-v2"}}));
  CHECK_THROWS_WITH(read({{"process", "a-name-longer-than-15"}}), Catch::Contains("15 bytes"));
  CHECK_THROWS_WITH(read({{"cgroup_root", "sys/fs/cgroup"}}), Catch::Contains("absolute"));
  CHECK_THROWS_WITH(read({{"restart_threshold", 0}}), Catch::Contains("restart_threshold"));
  CHECK_THROWS_WITH(read({{"proces", "buildkitd"}}), Catch::Contains("proces"));
}

TEST_CASE("buildkitd environment: hints only for lookalikes of the variables the entrypoint reads",
          "[buildkitd]") {
  using namespace std::string_literals;
  auto view = ViewEnvironment(
      "CACHE_SIZE_PC=10\0BUILDKIT_HOST=tcp://x\0EARTHLY_ADDITIONAL_BUILDKIT_CONFIG=x\0"
      "CACHE_KEEP_DURATIONS=1\0MY_CACHE_SIZE_MB=1\0BUILDKIT_MAX_PARALLELISM=4\0"s);
  std::vector<std::string> hinted;
  for (const auto& h : view.hints) hinted.push_back(h.name + "->" + h.did_you_mean);
  CHECK(hinted == std::vector<std::string>{"CACHE_SIZE_PC->CACHE_SIZE_PCT",
                                           "CACHE_KEEP_DURATIONS->CACHE_KEEP_DURATION"});
  REQUIRE(view.shown.size() == 1);
  CHECK(view.shown[0].first == "BUILDKIT_MAX_PARALLELISM");
}

}  // namespace
}  // namespace cachewarden
