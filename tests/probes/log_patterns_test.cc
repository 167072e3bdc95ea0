#include "probes/log_patterns.h"

#include <catch2/catch.hpp>
#include <sstream>

#include "base/text.h"
#include "tests/support/enum_names.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

TEST_CASE("real buildkitd log lines are recognised by kind", "[logs]") {
  std::istringstream in(
      testing::ReadFile(testing::SourceDir() + "/tests/fixtures/logs/buildkitd.log"));
  std::vector<std::string> kinds, ids;
  std::string line;
  while (std::getline(in, line)) {
    if (auto m = MatchLogLine(line)) {
      kinds.emplace_back(LogEventKindName(m->kind));
      if (!m->entry_id.empty()) ids.push_back(m->entry_id);
    }
  }
  CHECK(kinds == std::vector<std::string>{"buildkitd_start", "snapshotter_fallback", "dind_busy",
                                          "dind_busy", "dind_busy", "io_error", "disk_full",
                                          "gc_error"});
  CHECK(ids == std::vector<std::string>{
                   "3f2a9c", "8107d0c9ea28d0d3bd4e77afb9ea6b6a2798f859f54d0336c480706f37056133",
                   "cafe01"});
}

TEST_CASE("cgroup setup's Resource busy is not a dind failure", "[logs]") {
  CHECK_FALSE(MatchLogLine("sh: write error: Resource busy"));
  CHECK_FALSE(MatchLogLine("rm: cannot remove '/tmp/x': Device or resource busy"));
  CHECK_FALSE(MatchLogLine("rm: cannot remove '/var/earthly/dind/x': Permission denied"));
}

TEST_CASE("the dind path of a busy rm keeps its full path", "[logs]") {
  auto m = MatchLogLine(
      "   +t | rm: cannot remove '/var/earthly/dind/abc/x y/merged': Device or resource busy");
  REQUIRE(m);
  CHECK(m->path == "/var/earthly/dind/abc/x y/merged");
  CHECK(m->entry_id == "abc");
}

TEST_CASE("invalid UTF-8 is replaced and text is cut on a character boundary", "[logs]") {
  CHECK(SanitizeUtf8("ok \xff\xfe end", 100) == "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
  CHECK(SanitizeUtf8("\xC0\xAF", 100) == "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  CHECK(SanitizeUtf8("h\xC3\xA9llo", 2) == "h");                       // é not split
  CHECK(SanitizeUtf8("\xF0\x9F\x98\x80", 4) == "\xF0\x9F\x98\x80");
  CHECK(SanitizeUtf8("\xED\xA0\x80", 10) == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("log event kinds: one name each, both directions", "[logs][names]") {
  testing::CheckNameTable<LogEventKind>(kLogEventKindNames, LogEventKind::kBuildkitdStart);
}

}  // namespace
}  // namespace cachewarden
