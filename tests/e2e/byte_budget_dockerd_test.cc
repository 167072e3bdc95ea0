// The byte budget end to end on a real BuildKit: the test's own dockerd (Debian's docker.io,
// tests/support/dockerd.h) keeps its data root at <cache>/buildkit, as a build host whose cache
// directory holds dockerd's; `cachewarden scan --json` asks that BuildKit through docker-unix://
// and scans the directory. What the test then adds that BuildKit does not list, a tree under
// buildkit/ and a deleted file a child process still holds open, shows up with its sizes and
// holder.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/dockerd.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

namespace cachewarden {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDockerfile = R"(FROM cw-busybox:1
RUN dd if=/dev/zero of=/blob bs=1024 count=300
RUN --mount=type=cache,target=/cache dd if=/dev/zero of=/cache/c bs=1024 count=200
)";

std::uint64_t Allocated(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

// `size` bytes that are not zeros, written and synced, so that every block is allocated.
void WriteData(const std::string& path, std::size_t size) {
  testing::WriteFile(path, std::string(size, 'x'));
  REQUIRE(testing::RunProcess({"sync", path}).exit_code == 0);
}

// One `cachewarden scan --json` over the cache with the buildkit probe on dockerd's socket.
nlohmann::json Scan(const std::string& config, const std::string& cache) {
  const testing::ProcessResult r = testing::RunProcess(
      {testing::BinaryPath(), "scan", "--json", "--config", config, "--root", cache});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

std::uint64_t RowBytes(const nlohmann::json& budget, const std::string& part) {
  for (const auto& row : budget.at("rows")) {
    if (row.at("part") == part) return row.at("bytes").get<std::uint64_t>();
  }
  FAIL("no byte budget row " << part << " in " << budget.dump());
  return 0;
}

TEST_CASE(
    "the byte budget on a real dockerd: a tree under buildkit/ BuildKit does not list and a "
    "deleted file held open by a test process show up with their sizes and holder",
    "[byte_budget][buildkit][dockerd][e2e]") {
  if (const std::string why = testing::TestDockerd::Unavailable(); !why.empty()) CW_SKIP(why);
  testing::TempDir cache;  // outlives dockerd, whose data root is in it
  const std::string buildkit = cache / "buildkit";
  testing::TestDockerd dockerd(testing::TestDockerd::Options{"{}", buildkit, false});
  std::string error;
  REQUIRE(dockerd.Start(&error));
  REQUIRE(dockerd.ImportBusybox("cw-busybox:1", &error));
  fs::create_directories(dockerd.dir() + "/ctx");
  testing::WriteFile(dockerd.dir() + "/ctx/Dockerfile", kDockerfile);
  const testing::ProcessResult build =
      dockerd.Docker({"build", "--progress=plain", "-t", "cw-built:1", dockerd.dir() + "/ctx"});
  INFO("docker build:\n" << build.err << "\ndockerd's log:\n" << dockerd.Log());
  REQUIRE(build.exit_code == 0);

  const std::string config = cache / "config.json";
  testing::WriteFile(config, R"({"probes": {"buildkit": {"enabled": true, "call_timeout": "30s",
      "address": ["docker-unix://)" +
                                 dockerd.socket_path() + R"("]}}})");

  // Two scans in a row whose BuildKit count and buildkit/ directory agree: BuildKit has settled
  // after the build (leases released, its databases written).
  nlohmann::json before;
  REQUIRE(testing::WaitUntil(
      [&] {
        const nlohmann::json a = Scan(config, cache.path());
        before = Scan(config, cache.path());
        return RowBytes(a["byte_budget"], "BuildKit's own count") ==
                   RowBytes(before["byte_budget"], "BuildKit's own count") &&
               a["groups"]["buildkit"]["allocated_bytes"] ==
                   before["groups"]["buildkit"]["allocated_bytes"];
      },
      std::chrono::seconds(90)));
  INFO("before: " << before["byte_budget"].dump());
  const std::uint64_t counted = RowBytes(before["byte_budget"], "BuildKit's own count");
  CHECK(counted >= 500 * 1024);  // the two RUNs' 300 KiB and 200 KiB, as BuildKit measures them
  REQUIRE(before["byte_budget"]["unaccounted_bytes"].is_number());
  const auto unaccounted_before = before["byte_budget"]["unaccounted_bytes"].get<std::uint64_t>();
  const auto dir_before = before["groups"]["buildkit"]["allocated_bytes"].get<std::uint64_t>();

  // What BuildKit does not list: snapshots it lost track of, 12 files of 256 KiB.
  const std::string leaked = buildkit + "/leaked-snapshots";
  fs::create_directories(leaked + "/sha256-1/fs");
  std::uint64_t leaked_bytes =
      Allocated(leaked) + Allocated(leaked + "/sha256-1") + Allocated(leaked + "/sha256-1/fs");
  for (int i = 0; i < 12; ++i) {
    const std::string f = leaked + "/sha256-1/fs/layer" + std::to_string(i);
    WriteData(f, 256 * 1024);
    leaked_bytes += Allocated(f);
  }
  // A 3 MiB log deleted while a child (sleep) holds it open: no directory shows it.
  const std::string held = buildkit + "/held.log";
  WriteData(held, 3 * 1024 * 1024);
  const std::uint64_t held_bytes = Allocated(held);
  testing::ChildProcess holder({"sh", "-c", "exec sleep 600 3<\"$0\"", held}, cache.path());
  const std::string fd_link = "/proc/" + std::to_string(holder.pid()) + "/fd/3";
  REQUIRE(testing::WaitUntil([&] {
    std::error_code ec;
    return fs::read_symlink(fd_link, ec) == held &&
           testing::ReadFile("/proc/" + std::to_string(holder.pid()) + "/comm") == "sleep\n";
  }));
  REQUIRE(::unlink(held.c_str()) == 0);

  nlohmann::json after;
  REQUIRE(testing::WaitUntil(
      [&] {
        after = Scan(config, cache.path());
        // The figures are compared against the same BuildKit count (should a lease end meanwhile,
        // the next scan is taken).
        return RowBytes(after["byte_budget"], "BuildKit's own count") == counted;
      },
      std::chrono::seconds(60)));
  const nlohmann::json& budget = after["byte_budget"];
  INFO("after: " << budget.dump());
  CHECK(after["groups"]["buildkit"]["allocated_bytes"].get<std::uint64_t>() ==
        dir_before + leaked_bytes);
  CHECK(budget["unaccounted_bytes"].get<std::uint64_t>() == unaccounted_before + leaked_bytes);
  CHECK(RowBytes(budget, "buildkit/, not counted by BuildKit") ==
        unaccounted_before + leaked_bytes);

  // The deleted file: counted once, with its holder, in the budget's own row too.
  const nlohmann::json& open = budget["deleted_open"];
  bool found = false;
  for (const auto& f : open["largest"]) {
    if (f["pid"] != holder.pid()) continue;
    found = true;
    CHECK(f["comm"] == "sleep");
    CHECK(f["path"] == held);
    CHECK(f["bytes"].get<std::uint64_t>() == held_bytes);
  }
  CHECK(found);
  CHECK(open["bytes"].get<std::uint64_t>() >= held_bytes);
  CHECK(RowBytes(budget, "deleted, still open") == open["bytes"].get<std::uint64_t>());

  // The table `scan` prints says the same.
  const testing::ProcessResult text = testing::RunProcess(
      {testing::BinaryPath(), "scan", "--config", config, "--root", cache.path()});
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("buildkit/, not counted by BuildKit"));
  CHECK_THAT(text.out, Catch::Contains("deleted, still open"));
  holder.Signal(SIGKILL);
  dockerd.Stop();
}

}  // namespace
}  // namespace cachewarden
