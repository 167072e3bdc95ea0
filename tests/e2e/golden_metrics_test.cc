// A golden exposition (node_exporter's e2e-output.txt idea): the real agent on a fixed cache tree
// on a tmpfs of fixed size, with fixture /proc and /sys roots; one /metrics compared with
// tests/fixtures/golden/metrics.txt, so that a renamed metric, a lost label or a changed value
// shows in review. Timestamps and durations (every `*_seconds*` series) and the revision are
// masked; the cache's path is written as <cache>. To accept a change on purpose, run the test with
// CACHEWARDEN_UPDATE_GOLDEN=1 and review the diff of the golden file.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/agent.h"
#include "tests/support/http.h"
#include "tests/support/mounts.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using namespace testing;

// One line per sample, sorted: comments dropped, the cache path and the masked values replaced.
std::vector<std::string> Normalize(const std::string& exposition, const std::string& cache) {
  std::vector<std::string> out;
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    for (std::size_t at; (at = line.find(cache)) != std::string::npos;) {
      line.replace(at, cache.size(), "<cache>");
    }
    line = std::regex_replace(line, std::regex(R"(revision="[^"]*")"), R"(revision="<masked>")");
    line = std::regex_replace(line, std::regex(R"(version="[^"]*")"), R"(version="<masked>")");
    const std::size_t space = line.rfind(' ');
    const std::string name = line.substr(0, line.find_first_of("{ "));
    if (name.find("_seconds") != std::string::npos && space != std::string::npos) {
      line = line.substr(0, space) + " <masked>";
    }
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TEST_CASE("golden: /metrics of the agent on a fixed tree and fixture roots", "[e2e][golden]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  const std::string cache = dir / "cache";
  std::filesystem::create_directories(cache);
  // A tmpfs of fixed size and inode count, so that the volume figures are the same every run.
  REQUIRE(Mount("tmpfs", "tmpfs", cache, "size=16m,nr_inodes=2048,mode=0755") == "");
  std::filesystem::create_directories(cache + "/buildkit/runc-overlayfs/snapshots");
  std::filesystem::create_directories(cache + "/dind/cache_keep");
  std::filesystem::create_directories(cache + "/dind/build_1");
  WriteFile(cache + "/internal.earthly.version", "2");
  WriteFile(cache + "/buildkit/metadata_v2.db", std::string(64 * 1024, 'm'));
  WriteFile(cache + "/buildkit/runc-overlayfs/snapshots/layer", std::string(128 * 1024, 'l'));
  WriteFile(cache + "/dind/cache_keep/f", std::string(8 * 1024, 'k'));
  WriteFile(cache + "/dind/build_1/f", std::string(4 * 1024, 'b'));

  // Fixture roots: the cache's mount as mountinfo names it, and the diskstats fixture.
  const std::string proc = dir / "proc";
  std::filesystem::create_directories(proc + "/self");
  WriteFile(proc + "/self/mountinfo",
            "1 0 254:1 / / rw,relatime - ext4 /dev/vda1 rw\n"
            "2 1 0:99 / " +
                cache + " rw,relatime - tmpfs tmpfs rw,size=16384k,nr_inodes=2048\n");
  std::filesystem::copy_file(SourceDir() + "/tests/fixtures/diskstats/proc/diskstats.1",
                             proc + "/diskstats");
  const std::string sys = SourceDir() + "/tests/fixtures/diskstats/sys";

  // Latency off and GC off: the one writes into the cache and the other deletes on its own clock,
  // both of which would make the figures depend on timing. Their metric names are covered by
  // their own tests.
  AgentUnderTest agent(dir.path(), fmt::format(R"({{"root": "{}", "listen": "127.0.0.1:0",
      "proc_root": "{}", "sys_root": "{}",
      "probes": {{"latency": {{"enabled": false}}}}, "gc": {{"enabled": false}}}})",
                                               cache, proc, sys));
  std::string why;
  REQUIRE(agent.Start(&why));
  REQUIRE(WaitUntil([&] { return HttpGet(agent.Url("/readyz")).code == 200; }));
  const auto metrics = HttpGet(agent.Url("/metrics"));
  REQUIRE(metrics.code == 200);
  const std::string got = Join(Normalize(metrics.body, cache));

  const std::string golden_path = SourceDir() + "/tests/fixtures/golden/metrics.txt";
  if (const char* update = std::getenv("CACHEWARDEN_UPDATE_GOLDEN"); update && *update == '1') {
    std::filesystem::create_directories(SourceDir() + "/tests/fixtures/golden");
    WriteFile(golden_path, got);
    WARN("golden file rewritten: " << golden_path);
  }
  const std::string want = ReadFile(golden_path);
  REQUIRE_FALSE(want.empty());
  CHECK(got == want);
}

}  // namespace
}  // namespace cachewarden
