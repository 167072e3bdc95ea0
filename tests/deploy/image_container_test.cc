// The project's image (scripts/image, what `scripts/dev image` runs, with the binary under test)
// run by the test's own dockerd (tests/support/dockerd.h) with /tmp/earthly as each shape Docker
// itself makes, and `cachewarden check --json` inside. The image is built once for all sections: a
// fixture the sections share (ctest runs the test case in one process), since a build costs more
// than every shape together.
#include <fmt/format.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fs/mount_namespaces.h"
#include "tests/support/dockerd.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

namespace cachewarden {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::RunProcess;

constexpr const char* kImage = "cachewarden:test";

// The test's dockerd with the image and busybox imported, made on first use.
struct ImageFixture {
  testing::TestDockerd dockerd;
  std::string error;  // why it is not usable, "" when it is
  double build_seconds = 0;
  std::string build_output;

  ImageFixture() {
    if (!dockerd.Start(&error)) return;
    if (!dockerd.ImportBusybox("cw-busybox:1", &error)) return;
    const auto start = std::chrono::steady_clock::now();
    // The rootfs cache `scripts/dev image` uses (keyed by the packages the binary needs): built
    // once, reused by every run and by `scripts/dev image`.
    const std::string cache = testing::SourceDir() + "/build-image";
    ProcessResult r = RunProcess(
        {testing::SourceDir() + "/scripts/image", testing::BinaryPath()},
        {"DOCKER_HOST=unix://" + dockerd.socket_path(), std::string("CACHEWARDEN_IMAGE=") + kImage,
         "CACHEWARDEN_IMAGE_CACHE=" + cache, "CACHEWARDEN_IMAGE_SAVE="},
        std::chrono::minutes(9));
    build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    build_output = r.out + r.err;
    if (r.exit_code != 0) error = "scripts/image failed:\n" + build_output;
  }
};

ImageFixture& Fixture() {
  static ImageFixture fixture;
  return fixture;
}

struct CheckRun {
  int exit_code = -1;
  nlohmann::json report;
  std::string err;
  const nlohmann::json& Mounts() const { return report["probes"]["mounts"]["data"]; }
  // The first finding of `rule` (its source is the rule and its labels) at `severity`, or null.
  nlohmann::json Finding(const std::string& rule, const std::string& severity) const {
    for (const auto& f : report["findings"]) {
      const auto source = f["source"].get<std::string>();
      if ((source == rule || source.starts_with(rule + " ")) && f["severity"] == severity) return f;
    }
    return nullptr;
  }
};

// `docker run --rm OPTIONS cachewarden:test check --json`: the exit code and the parsed report.
CheckRun RunCheck(const std::vector<std::string>& options) {
  std::vector<std::string> args = {"run", "--rm"};
  args.insert(args.end(), options.begin(), options.end());
  args.insert(args.end(), {kImage, "check", "--json"});
  const ProcessResult r = Fixture().dockerd.Docker(args);
  CheckRun run;
  run.exit_code = r.exit_code;
  run.err = r.err;
  INFO("docker " << fmt::format("{}", fmt::join(args, " ")) << "\nstderr: " << r.err
                 << "\nstdout: " << r.out);
  REQUIRE_NOTHROW(run.report = nlohmann::json::parse(r.out));
  return run;
}

// A loop device of a fresh ext4 image file in `dir`, detached on destruction. Loop devices are not
// namespaced: this is the one host-wide thing the test makes, and it removes it.
class Ext4LoopDevice {
 public:
  explicit Ext4LoopDevice(const std::string& dir) {
    const std::string image = dir + "/ext4.img";
    if (RunProcess({"truncate", "-s", "64M", image}).exit_code != 0 ||
        RunProcess({"mkfs.ext4", "-q", "-F", image}).exit_code != 0) {
      error_ = "mkfs.ext4 failed";
      return;
    }
    ProcessResult r = RunProcess({"losetup", "--find", "--show", image});
    if (r.exit_code != 0) {
      error_ = "losetup: " + r.err;
      return;
    }
    device_ = r.out.substr(0, r.out.find('\n'));
  }
  ~Ext4LoopDevice() {
    if (!device_.empty()) RunProcess({"losetup", "-d", device_});
  }
  const std::string& device() const { return device_; }
  const std::string& error() const { return error_; }

 private:
  std::string device_, error_;
};

TEST_CASE("image: check inside the container names each /tmp/earthly shape Docker makes",
          "[deploy][image][dockerd][root]") {
  if (const std::string why = testing::TestDockerd::Unavailable(); !why.empty()) CW_SKIP(why);
  ImageFixture& f = Fixture();
  INFO(f.error << "\ndockerd's log:\n" << f.dockerd.Log());
  REQUIRE(f.error.empty());
  WARN("image built in " << f.build_seconds << " s: " << f.build_output);

  SECTION("no mount: the container's overlay root, critical, with the remedy") {
    const CheckRun run = RunCheck({});
    CHECK(run.Mounts()["kind"] == "container_root");
    CHECK(run.Mounts()["mount"]["mount_point"] == "/");
    CHECK(run.Mounts()["mount"]["fstype"] == "overlay");
    CHECK(run.exit_code == 2);
    const auto finding = run.Finding("CacheNotOnVolume", "critical");
    REQUIRE(finding != nullptr);
    CHECK(finding["remedy"].get<std::string>().find("volume") != std::string::npos);
  }

  SECTION("a named volume: docker_volume") {
    const CheckRun run = RunCheck({"-v", "cw-cache:/tmp/earthly"});
    CHECK(run.Mounts()["kind"] == "docker_volume");
    CHECK(run.Mounts()["mount"]["root"].get<std::string>().ends_with("/volumes/cw-cache/_data"));
    CHECK(run.Finding("CacheNotOnVolume", "ok") != nullptr);
  }

  SECTION("a local-driver ext4 volume on a loop device: dedicated_device") {
    testing::TempDir dir;
    Ext4LoopDevice loop(dir.path());
    REQUIRE(loop.error() == "");
    const ProcessResult created =
        f.dockerd.Docker({"volume", "create", "--driver", "local", "--opt", "type=ext4", "--opt",
                          "device=" + loop.device(), "cw-ext4"});
    REQUIRE(created.exit_code == 0);
    const CheckRun run = RunCheck({"-v", "cw-ext4:/tmp/earthly"});
    CHECK(run.Mounts()["kind"] == "dedicated_device");
    CHECK(run.Mounts()["mount"]["source"] == loop.device());
    CHECK(run.Mounts()["mount"]["fstype"] == "ext4");
    CHECK(run.Finding("CacheNotOnVolume", "ok") != nullptr);
    // dockerd unmounts the volume when the container goes; the loop device can then be detached.
    CHECK(f.dockerd.Docker({"volume", "rm", "cw-ext4"}).exit_code == 0);
  }

  SECTION("--tmpfs: tmpfs") {
    const CheckRun run = RunCheck({"--tmpfs", "/tmp/earthly"});
    CHECK(run.Mounts()["kind"] == "tmpfs");
    CHECK(run.Mounts()["mount"]["fstype"] == "tmpfs");
    CHECK(run.Finding("CacheNotOnVolume", "warning") != nullptr);
  }

  SECTION("a host bind: host_bind") {
    testing::TempDir dir;
    fs::create_directories(dir / "cache");
    const CheckRun run = RunCheck({"-v", dir / "cache" + ":/tmp/earthly"});
    CHECK(run.Mounts()["kind"] == "host_bind");
    CHECK(run.Mounts()["mount"]["root"] == dir / "cache");
    CHECK(run.Finding("CacheNotOnVolume", "ok") != nullptr);
  }

  SECTION("beside a buildkitd stand-in sharing the volume and its pid namespace") {
    // The stand-in mounts a tmpfs under dind/ of the shared volume, in its own mount namespace, as
    // a WITH DOCKER dockerd does; the agent sees that namespace through the shared pids.
    const ProcessResult started = f.dockerd.Docker(
        {"run", "-d", "--name", "cw-buildkitd", "--cap-add", "SYS_ADMIN", "-v",
         "cw-shared:/tmp/earthly", "cw-busybox:1", "sh", "-c",
         "mkdir -p /tmp/earthly/dind/0a1b2c/merged && busybox mount -t tmpfs tmpfs "
         "/tmp/earthly/dind/0a1b2c/merged && busybox touch /tmp/earthly/ready && exec busybox "
         "sleep 600"});
    INFO(started.err);
    REQUIRE(started.exit_code == 0);
    const std::string inspect =
        f.dockerd.Docker({"inspect", "-f", "{{.State.Pid}}", "cw-buildkitd"}).out;
    const pid_t host_pid = std::stoi(inspect);  // in dockerd's pid namespace
    REQUIRE(testing::WaitUntil([&] {
      return f.dockerd.Docker({"exec", "cw-buildkitd", "ls", "/tmp/earthly/ready"}).exit_code == 0;
    }));
    // .State.Pid is a pid of dockerd's pid namespace: read its link there.
    const ProcessResult link =
        f.dockerd.RunInside({"readlink", "/proc/" + std::to_string(host_pid) + "/ns/mnt"});
    REQUIRE(link.exit_code == 0);
    const std::uint64_t ns = ParseNamespaceLink(link.out.substr(0, link.out.find('\n')));
    // Reading another process's namespace needs the same user or CAP_SYS_PTRACE: the agent runs as
    // the stand-in's user (root) with every capability dropped but CAP_SYS_PTRACE.
    const CheckRun run =
        RunCheck({"--pid", "container:cw-buildkitd", "-v", "cw-shared:/tmp/earthly", "--user", "0",
                  "--cap-drop", "ALL", "--cap-add", "SYS_PTRACE"});
    const auto& dind = run.report["probes"]["dind"]["data"];
    INFO(dind.dump(2));
    REQUIRE(dind["mounts"].size() == 1);
    const auto& m = dind["mounts"][0];
    CHECK(m["scope"] == "other");
    CHECK(m["entry_id"] == "0a1b2c");
    CHECK(m["fstype"] == "tmpfs");
    CHECK(m["pid"] == 1);  // the stand-in's sleep, pid 1 of the shared pid namespace
    CHECK(m["command"] == "busybox");
    CHECK(m["mount_namespace"].get<std::uint64_t>() == ns);
    CHECK(run.Mounts()["kind"] == "docker_volume");
    f.dockerd.Docker({"rm", "-f", "cw-buildkitd"});
  }
}

}  // namespace
}  // namespace cachewarden
