#include "base/config_reader.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <string>

#include "tests/support/config_errors.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

// The message of the ConfigError that parsing `text` throws ("" if it parses). Any other
// exception fails the test: every parse failure must be a ConfigError.
std::string ParseErrorOf(const std::string& text) {
  return testing::ConfigErrorOf([&] { ParseJsonText(text, "cfg.json"); });
}

std::string Nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST_CASE("a number out of range is a config error naming its key, not a crash", "[config]") {
  CHECK_THAT(ParseErrorOf(R"({"gc": {"policies": 1e400}})"),
             Catch::StartsWith("/gc/policies: cfg.json: invalid JSON: number overflow"));
  CHECK_THAT(ParseErrorOf(R"({"a": [1, 2, -1e400]})"), Catch::StartsWith("/a/2: "));
}

TEST_CASE("a duplicate key is an error naming it, never last one wins", "[config]") {
  CHECK(ParseErrorOf(R"({"gc": {"policies": []}, "gc": {}})") == "/gc: duplicate key");
  CHECK(ParseErrorOf(R"({"a": [{"k": 1}, {"k": 1, "k": 2}]})") == "/a/1/k: duplicate key");
  // The same key in different objects is fine.
  CHECK(ParseErrorOf(R"({"a": {"k": 1}, "b": {"k": 1}, "c": [{"k": 1}, {"k": 2}]})").empty());
}

TEST_CASE("nesting is capped, and 100000 levels is an error, not a stack overflow", "[config]") {
  CHECK(ParseErrorOf(Nested(kMaxConfigDepth)).empty());
  CHECK_THAT(ParseErrorOf(Nested(kMaxConfigDepth + 1)),
             Catch::Contains("nesting deeper than 64 levels"));
  CHECK_THAT(ParseErrorOf(Nested(100000)), Catch::Contains("nesting deeper than 64 levels"));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\": ";
  CHECK_THAT(ParseErrorOf(objects), Catch::Contains("nesting deeper than 64 levels"));
}

TEST_CASE("config text over the size cap is refused", "[config]") {
  std::string big = "[\"" + std::string(kMaxConfigBytes, 'x') + "\"]";
  CHECK_THAT(ParseErrorOf(big), Catch::Contains("larger than 1048576 bytes"));
}

TEST_CASE("a config file that is not a regular file is refused without blocking", "[config]") {
  testing::TempDir dir;
  auto read_error = [](const std::string& path) {
    return testing::ConfigErrorOf([&] { ReadConfigFile(path); });
  };
  CHECK(read_error("/dev/zero") == "/dev/zero: cannot read config file: not a regular file");
  // A FIFO with no writer: a blocking open would hang here.
  std::string fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(read_error(fifo) == fifo + ": cannot read config file: not a regular file");
  CHECK(read_error(dir.path()) == dir.path() + ": cannot read config file: not a regular file");
  testing::WriteFile(dir / "big.json", std::string(kMaxConfigBytes + 1, ' '));
  CHECK_THAT(read_error(dir / "big.json"), Catch::EndsWith("larger than 1048576 bytes"));
  CHECK_THAT(read_error(dir / "missing.json"), Catch::EndsWith("No such file or directory"));
  testing::WriteFile(dir / "ok.json", "{}");
  CHECK(ReadConfigFile(dir / "ok.json") == "{}");
}

}  // namespace
}  // namespace cachewarden
