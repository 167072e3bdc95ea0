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

// The kind and figure of every line LogMatcher recognises in `fixture`, as "kind" or "kind=detail".
std::vector<std::string> MatchesIn(const std::string& fixture) {
  std::istringstream in(
      testing::ReadFile(testing::SourceDir() + "/tests/fixtures/logs/" + fixture));
  LogMatcher matcher;
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (auto m = matcher.Next(line)) {
      out.push_back(std::string(LogEventKindName(m->kind)) +
                    (m->detail.empty() ? "" : "=" + m->detail));
    }
  }
  return out;
}

TEST_CASE("crash, corruption and start-up lines of buildkitd and its entrypoint are recognised",
          "[logs]") {
  CHECK(MatchesIn("buildkitd-crash.log") ==
        std::vector<std::string>{
            "cache_reset=/tmp/earthly",
            "cache_size_clamped=51200 MB (20% of filesystem)",
            "cache_size_auto=20480 MB",
            "buildkitd_start",
            "tls_disabled=tcp://0.0.0.0:8372",
            "buildkitd_start",
            "cache_corrupted",
            "cache_corrupted",  // bbolt's own panic: one event, not a panic and a corruption
            "panic=runtime error: invalid memory address or nil pointer dereference",
            "cache_corrupted=panic: runtime error: invalid memory address or nil pointer "
            "dereference",
            "panic=send on closed channel",  // a session frame: not the cache
            "buildkit_exited=2",
            "healthcheck_failed",
        });
}

TEST_CASE("a panic's bolt frame counts only within the lines that follow it", "[logs]") {
  LogMatcher matcher;
  REQUIRE(matcher.Next("panic: boom")->kind == LogEventKind::kPanic);
  for (int i = 0; i < LogMatcher::kPanicFrameLines; ++i) {
    CHECK_FALSE(matcher.Next("github.com/moby/buildkit/solver.(*edge).exec(...)"));
  }
  CHECK_FALSE(matcher.Next("go.etcd.io/bbolt.(*Tx).Commit(...)"));
  // Without a panic before it a bolt frame is no event; a frame matches once per panic.
  CHECK_FALSE(LogMatcher().Next("go.etcd.io/bbolt.(*Tx).Commit(...)"));
  REQUIRE(matcher.Next("  panic: again")->kind == LogEventKind::kPanic);
  CHECK(matcher.Next("go.etcd.io/bbolt.(*Tx).Commit(...)")->kind == LogEventKind::kCacheCorrupted);
  CHECK_FALSE(matcher.Next("\t/src/vendor/go.etcd.io/bbolt/tx.go:160 +0x1e"));
}

TEST_CASE("a recovered panic inside a message is not a crash", "[logs]") {
  CHECK_FALSE(MatchLogLine("time=\"x\" level=error msg=\"recovered from panic: boom\""));
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
  testing::CheckNameTable<LogEventKind>(kLogEventKindNames, LogEventKind::kCacheSizeAuto);
}

}  // namespace
}  // namespace cachewarden
