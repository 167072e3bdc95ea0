#include "probes/log_follower.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "tests/support/enum_names.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::TempDir;

void Append(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

struct Collector {
  std::vector<LogLine> lines;
  std::vector<std::string> Texts() const {
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(l.text);
    return out;
  }
  void Poll(LogFollower& f) {
    Status s = f.Poll([&](LogLine&& l) { lines.push_back(std::move(l)); });
    REQUIRE(s.ok());
  }
};

LogFollowerOptions Options(const std::string& path, bool at_end = false) {
  LogFollowerOptions o;
  o.path = path;
  o.start_at_end = at_end;
  return o;
}

using Lines = std::vector<std::string>;

TEST_CASE("a follower starts at the end of an existing file by default", "[logs]") {
  TempDir dir;
  auto path = dir / "b.log";
  Append(path, "old 1\nold 2\npartial");
  LogFollower f(Options(path, true));
  Collector c;
  c.Poll(f);
  CHECK(c.lines.empty());
  Append(path, " tail\nnew 1\n");
  c.Poll(f);
  CHECK(c.Texts() == Lines{"new 1"});
}

TEST_CASE("a file that does not exist yet is read from its start when it appears", "[logs]") {
  TempDir dir;
  auto path = dir / "later.log";
  LogFollower f(Options(path, true));
  Collector c;
  c.Poll(f);
  CHECK(f.stats().missing);
  Append(path, "first\nsecond\n");
  c.Poll(f);
  CHECK(c.Texts() == Lines{"first", "second"});
}

TEST_CASE("rotation by rename loses nothing and repeats nothing", "[logs]") {
  TempDir dir;
  auto path = dir / "b.log";
  Append(path, "a\n");
  LogFollower f(Options(path));
  Collector c;
  c.Poll(f);
  Append(path, "b\nc-unterminated");
  REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
  c.Poll(f);                     // renamed, nothing new at the path yet
  Append(path + ".1", "\nd\n");  // the writer still has the old file
  Append(path, "e\n");
  c.Poll(f);
  Append(path, "f\n");
  c.Poll(f);
  CHECK(c.Texts() == Lines{"a", "b", "c-unterminated", "d", "e", "f"});
  CHECK(f.stats().rotations == 1);
}

TEST_CASE("copytruncate is noticed and the new content read once", "[logs]") {
  TempDir dir;
  auto path = dir / "b.log";
  Append(path, "one\ntwo\n");
  LogFollower f(Options(path));
  Collector c;
  c.Poll(f);
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  Append(path, "three\n");
  c.Poll(f);
  // Truncated and written past the old offset before the poll.
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  Append(path, "four is longer\nfive\n");
  c.Poll(f);
  c.Poll(f);
  CHECK(c.Texts() == Lines{"one", "two", "three", "four is longer", "five"});
  CHECK(f.stats().truncations == 2);
}

TEST_CASE("deletion and re-creation are followed", "[logs]") {
  TempDir dir;
  auto path = dir / "b.log";
  Append(path, "x\n");
  LogFollower f(Options(path));
  Collector c;
  c.Poll(f);
  REQUIRE(::unlink(path.c_str()) == 0);
  c.Poll(f);
  CHECK(f.stats().missing);
  Append(path, "y\n");
  c.Poll(f);
  CHECK(c.Texts() == Lines{"x", "y"});
}

TEST_CASE("CRI partial lines are joined per stream and timestamps kept", "[logs]") {
  TempDir dir;
  auto path = dir / "0.log";
  Append(
      path,
      "2024-01-10T13:30:15.123456789Z stderr P rm: cannot remove "
      "'/var/earth\n2024-01-10T13:30:15.200000000Z stdout F "
      "unrelated\n2024-01-10T13:30:15.300000000Z stderr F ly/dind/abc': Device or resource busy\n"
      "2024-01-10T13:30:16+00:00 stdout F \n");
  LogFollower f(Options(path));
  Collector c;
  c.Poll(f);
  CHECK(f.stats().detected == LogLineFormat::kCri);
  REQUIRE(c.lines.size() == 3);
  CHECK(c.lines[0].text == "unrelated");
  CHECK(c.lines[1].text == "rm: cannot remove '/var/earthly/dind/abc': Device or resource busy");
  REQUIRE(c.lines[1].time);
  CHECK(ToUnixSeconds(*c.lines[1].time) == Approx(1704893415.3));
  CHECK(c.lines[2].text.empty());
}

TEST_CASE("a 10 MB line is cut to the bound, counted, and the next line intact", "[logs]") {
  TempDir dir;
  auto path = dir / "b.log";
  LogFollowerOptions o = Options(path);
  o.max_line_bytes = 64 * 1024;
  LogFollower f(o);
  std::string huge(10'000'000, 'x');
  Append(path, "before\n" + huge + "\nafter\n");
  Collector c;
  c.Poll(f);
  REQUIRE(c.lines.size() == 3);
  CHECK(c.lines[1].text.size() == 64 * 1024);
  CHECK(c.lines[1].truncated);
  CHECK(c.lines[2].text == "after");
  CHECK(f.stats().truncated_lines == 1);
  CHECK(f.stats().bytes_read == 7 + huge.size() + 1 + 6);
}

TEST_CASE("a read budget spreads a backlog over polls without loss", "[logs]") {
  TempDir dir;
  auto path = dir / "b.log";
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  Append(path, text);
  LogFollowerOptions o = Options(path);
  o.max_read_bytes = 64 * 1024;
  LogFollower f(o);
  Collector c;
  for (int i = 0; i < 10; ++i) c.Poll(f);
  REQUIRE(c.lines.size() == 20000);
  CHECK(c.lines.back().text == "line 19999");
}

TEST_CASE("invalid UTF-8 passes through the follower untouched", "[logs]") {
  TempDir dir;
  auto path = dir / "b.log";
  Append(path, "bad \xff\xfe bytes\n");
  LogFollower f(Options(path));
  Collector c;
  c.Poll(f);
  REQUIRE(c.lines.size() == 1);
  CHECK(c.lines[0].text == "bad \xff\xfe bytes");
}

TEST_CASE("a path that is not a regular file is an error, whatever errno held", "[logs]") {
  TempDir dir;
  std::filesystem::create_directory(dir / "a.log");
  LogFollower f(Options(dir / "a.log"));
  errno = ENOENT;  // stale: must not make the directory look missing
  Status s = f.Poll([](LogLine&&) {});
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kIo);
  CHECK(s.message() == "not a regular file");
  CHECK(s.error_number() == 0);
  CHECK_FALSE(f.stats().missing);
}

TEST_CASE("RFC 3339 times parse with fractions and offsets", "[logs]") {
  auto t = ParseRfc3339("2024-01-10T13:30:15Z");
  REQUIRE(t);
  CHECK(ToUnixSeconds(*t) == Approx(1704893415));
  auto o = ParseRfc3339("2024-01-10T15:30:15.5+02:00");
  REQUIRE(o);
  CHECK(ToUnixSeconds(*o) == Approx(1704893415.5));
  CHECK_FALSE(ParseRfc3339("2024-01-10 13:30:15Z"));
  CHECK_FALSE(ParseRfc3339("2024-13-10T13:30:15Z"));
  CHECK_FALSE(ParseRfc3339("2024-01-10T13:30:15"));
}

TEST_CASE("an RFC 3339 time beyond what a SystemTime holds is not a time", "[logs]") {
  // Found by log_follower_fuzz: year 4048 overflowed the nanosecond count (UB, a wrapped time).
  CHECK_FALSE(ParseRfc3339("4048-01-10T13:30:15Z"));
  CHECK_FALSE(ParseRfc3339("9999-12-31T23:59:59.999999999-23:59"));
  CHECK_FALSE(ParseRfc3339("0001-01-01T00:00:00Z"));
  auto late = ParseRfc3339("2261-12-31T23:59:59Z");
  REQUIRE(late);
  CHECK(ToUnixSeconds(*late) == Approx(9214646399.0));
}

TEST_CASE("log line formats: one name each, both directions", "[logs][names]") {
  testing::CheckNameTable<LogLineFormat>(kLogLineFormatNames, LogLineFormat::kCri);
}

}  // namespace
}  // namespace cachewarden
