#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <string>

#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

// What `write_log` writes to stderr, read back through a pipe put in place of fd 2. The pipe's
// buffer holds far more than the few lines a test writes, so nothing blocks.
std::string CaptureStderr(const std::function<void()>& write_log) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  int saved = ::dup(STDERR_FILENO);
  REQUIRE(saved >= 0);
  REQUIRE(::dup2(fds[1], STDERR_FILENO) == STDERR_FILENO);
  ::close(fds[1]);
  write_log();
  ::dup2(saved, STDERR_FILENO);  // closes the pipe's last write end: read() then sees EOF
  ::close(saved);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  return out;
}

// The text format for the duration of a test, JSON again after it.
struct TextLog {
  TextLog() { ConfigureLog(LogLevel::kInfo, LogFormat::kText); }
  ~TextLog() { ConfigureLog(LogLevel::kInfo, LogFormat::kJson); }
};

std::size_t Count(const std::string& s, char c) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), c));
}

TEST_CASE("text log escapes a newline and an escape byte in a field value", "[log]") {
  TextLog text;
  std::string out = CaptureStderr([] {
    LogWarn("gc did not delete an entry",
            {{"entry", "build-1\n2024-01-01T00:00:00Z error forged=1"}, {"path", "a\x1b[2Jb"}});
  });
  INFO(out);
  CHECK(Count(out, '\n') == 1);  // one event, one line
  CHECK(out.back() == '\n');
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK_THAT(out, Catch::Contains(" warn  gc did not delete an entry "));
  CHECK_THAT(out, Catch::Contains(R"( entry="build-1\n2024-01-01T00:00:00Z error forged=1")"));
  CHECK_THAT(out, Catch::Contains(R"( path="a\u001b[2Jb")"));
}

TEST_CASE("text log writes plain values bare and quotes the rest", "[log]") {
  TextLog text;
  std::string out = CaptureStderr([] {
    LogInfo("listening", {{"port", 9479},
                          {"root", "/tmp/earthly"},
                          {"error", "no space left"},
                          {"quote", "say \"hi\""},
                          {"empty", ""},
                          {"argv", {"sh", "-c", "exit 3"}}});
  });
  INFO(out);
  CHECK(Count(out, '\n') == 1);
  CHECK_THAT(out, Catch::Contains(" port=9479"));
  CHECK_THAT(out, Catch::Contains(" root=/tmp/earthly"));
  CHECK_THAT(out, Catch::Contains(R"( error="no space left")"));
  CHECK_THAT(out, Catch::Contains(R"( quote="say \"hi\"")"));
  CHECK_THAT(out, Catch::Contains(R"( empty="")"));
  CHECK_THAT(out, Catch::Contains(R"( argv=["sh","-c","exit 3"])"));
}

TEST_CASE("text log escapes control bytes in the message too", "[log]") {
  TextLog text;
  std::string out = CaptureStderr([] { LogError("bad\nline\x07"); });
  INFO(out);
  CHECK(Count(out, '\n') == 1);
  CHECK_THAT(out, Catch::EndsWith(" error \"bad\\nline\\u0007\"\n"));
}

TEST_CASE("json log keeps a newline in a value inside its one line", "[log]") {
  ConfigureLog(LogLevel::kInfo, LogFormat::kJson);
  std::string out = CaptureStderr([] { LogInfo("m", {{"entry", "a\nb\x1b"}}); });
  INFO(out);
  CHECK(Count(out, '\n') == 1);
  CHECK_THAT(out, Catch::Contains(R"("entry":"a\nb\u001b")"));
}

TEST_CASE("log levels and formats: one name each, both directions", "[log][names]") {
  testing::CheckNameTable<LogLevel>(kLogLevelNames, LogLevel::kError);
  testing::CheckNameTable<LogFormat>(kLogFormatNames, LogFormat::kText);
}

TEST_CASE("log levels and formats parse by their table and nothing else", "[log]") {
  LogLevel level = LogLevel::kInfo;
  CHECK(ParseLogLevel("warn", &level));
  CHECK(level == LogLevel::kWarn);
  CHECK_FALSE(ParseLogLevel("warning", &level));
  CHECK_FALSE(ParseLogLevel("WARN", &level));
  CHECK(level == LogLevel::kWarn);  // untouched by a failed parse

  LogFormat format = LogFormat::kJson;
  CHECK(ParseLogFormat("text", &format));
  CHECK(format == LogFormat::kText);
  CHECK_FALSE(ParseLogFormat("logfmt", &format));
  CHECK(format == LogFormat::kText);
}

}  // namespace
}  // namespace cachewarden
