// The real binary's `check --json` with the buildkitd probe on, against a real process named
// buildkitd (a copy of sleep) with a misspelt variable in its environment.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::TempDir;

TEST_CASE("check: a buildkitd with a variable nothing reads warns, with the did-you-mean",
          "[buildkitd][e2e]") {
  TempDir dir;
  std::filesystem::create_directories(dir / "cache");
  const std::string binary = dir / "buildkitd";
  std::filesystem::copy_file("/bin/sleep", binary);
  ::chmod(binary.c_str(), 0755);
  testing::ChildProcess child({binary, "600"}, dir.path(),
                              {"CACHE_SIZE_PCT=20", "BUILDKIT_CACHE_MAX_SIZE_MB=5000-not-shown",
                               "CACHEWARDEN_TEST_SECRET=hunter2"});
  REQUIRE(testing::WaitUntil([&] {
    std::ifstream in("/proc/" + std::to_string(child.pid()) + "/comm");
    std::string comm;
    std::getline(in, comm);
    return comm == "buildkitd";
  }));
  const std::string cfg = dir / "config.json";
  // Other processes named buildkitd on this machine may show too: room for all.
  testing::WriteFile(cfg, R"({"probes": {"buildkitd": {"enabled": true, "max_processes": 64}}})");
  auto r = testing::RunProcess(
      {testing::BinaryPath(), "check", "--json", "--config", cfg, "--root", dir / "cache"});
  INFO(r.err);
  CHECK(r.exit_code >= 1);  // at least the warning
  auto report = nlohmann::json::parse(r.out);
  nlohmann::json ours;
  for (const auto& p : report["probes"]["buildkitd"]["data"]["processes"]) {
    if (p["pid"] == child.pid()) ours = p;
  }
  REQUIRE(ours.is_object());
  CHECK(ours["environment"] == nlohmann::json{{"CACHE_SIZE_PCT", "20"}});
  bool warned = false;
  for (const auto& f : report["findings"]) {
    if (f["source"] == "BuildkitEnvUnread" && f["severity"] == "warning") {
      warned = f.dump().find("BUILDKIT_CACHE_MAX_SIZE_MB (did you mean CACHE_SIZE_MB?)") !=
               std::string::npos;
    }
  }
  CHECK(warned);
  CHECK(r.out.find("hunter2") == std::string::npos);
  CHECK(r.out.find("not-shown") == std::string::npos);
}

}  // namespace
}  // namespace cachewarden
