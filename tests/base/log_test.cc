#include "base/log.h"

#include <catch2/catch.hpp>

#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

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
