#include "base/units.h"

#include <catch2/catch.hpp>

#include "base/json_text.h"

namespace cachewarden {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("durations parse with units and sums", "[config]") {
  CHECK(ParseDuration("500ms") == milliseconds(500));
  CHECK(ParseDuration("90s") == seconds(90));
  CHECK(ParseDuration("15m") == seconds(900));
  CHECK(ParseDuration("7d") == seconds(7 * 86400));
  CHECK(ParseDuration("1h30m") == seconds(5400));
  CHECK(ParseDuration("1.5s") == milliseconds(1500));
  CHECK_FALSE(ParseDuration("5"));
  CHECK_FALSE(ParseDuration("5 s"));
  CHECK_FALSE(ParseDuration("-5s"));
  CHECK_FALSE(ParseDuration("5y"));
  CHECK_FALSE(ParseDuration(""));
}

TEST_CASE("a duration names each unit at most once", "[config]") {
  CHECK_FALSE(ParseDuration("1s1s1s"));
  CHECK_FALSE(ParseDuration("1h30m1h"));
  CHECK(ParseDuration("1d2h3m4s5ms") == seconds(93784) + milliseconds(5));
}

TEST_CASE("durations reach 100000 days and no further", "[config]") {
  CHECK(ParseDuration("36500d") == std::chrono::hours(24 * 36500));
  CHECK(ParseDuration("100000d") == std::chrono::hours(24 * 100000));
  CHECK_FALSE(ParseDuration("100001d"));
}

TEST_CASE("durations are summed exactly, to the nanosecond, also past 2^53 ns", "[config]") {
  // Found by units_fuzz: summed in double, this lost its last millisecond and did not survive
  // FormatDuration and ParseDuration again.
  const auto d = ParseDuration("1w1h9s1ms65500d");
  REQUIRE(d);
  CHECK(*d == std::chrono::hours(24 * 65507 + 1) + seconds(9) + milliseconds(1));
  CHECK(FormatDuration(*d) == "5659808409001ms");
  CHECK(ParseDuration(FormatDuration(*d)) == *d);
  CHECK(ParseDuration("0.000000001s") == std::chrono::nanoseconds(1));
  CHECK(ParseDuration("1.5w") == std::chrono::hours(252));
  CHECK_FALSE(ParseDuration("1.2.3s"));
  CHECK_FALSE(ParseDuration(".s"));
  CHECK_FALSE(ParseDuration(std::string(400, '9') + "ms"));
  // Found by config_fuzz and units_fuzz: neither the digits nor the sum of parts may overflow.
  CHECK_FALSE(ParseDuration("1000000000000000000000000h30m"));
  CHECK_FALSE(ParseDuration("99999d99999h"));
  CHECK(ParseDuration("99999d24h") == std::chrono::hours(24 * 100000));
}

TEST_CASE("durations format back to their shortest spelling", "[config]") {
  CHECK(FormatDuration(seconds(90)) == "1m30s");
  CHECK(FormatDuration(seconds(21600)) == "6h");
  CHECK(FormatDuration(milliseconds(500)) == "500ms");
  CHECK(FormatDuration(seconds(0)) == "0s");
}

TEST_CASE("sizes parse as bytes or a percentage", "[config]") {
  CHECK(ParseSize("512MiB")->value == 512.0 * 1024 * 1024);
  CHECK(ParseSize("50GB")->value == 50e9);
  CHECK(ParseSize("80%")->percent);
  CHECK(ParseSize("80%")->Resolve(1000) == 800);
  CHECK(ParseSize("0")->value == 0);
  CHECK_FALSE(ParseSize("12"));
  CHECK_FALSE(ParseSize("101%"));
  CHECK_FALSE(ParseSize("5 GB"));
  CHECK_FALSE(ParseSize("5XB"));
  // At most 2^62 bytes: larger values would not fit a uint64_t cast.
  CHECK(ParseSize("4194304TiB")->value == 4611686018427387904.0);
  CHECK_FALSE(ParseSize("4194305TiB"));
  CHECK_FALSE(ParseSize("100000000000000000000000B"));
  CHECK_FALSE(ParseSize(std::string(400, '9') + "TB"));
  CHECK(SizeSpec::Bytes(64ULL << 20).ToString() == "64MiB");
}

TEST_CASE("ages for people have at most two units", "[units]") {
  using std::chrono::seconds;
  CHECK(HumanAge(seconds(42)) == "42s");
  CHECK(HumanAge(seconds(5 * 3600 + 12 * 60 + 9)) == "5h12m");
  CHECK(HumanAge(seconds(2 * 86400 + 3 * 3600 + 59)) == "2d3h");
  CHECK(HumanAge(seconds(-5)) == "0s");
  CHECK(HumanAgeSeconds(90.4) == "1m30s");
  CHECK(HumanAgeSeconds(-1) == "0s");
}

TEST_CASE("names for a terminal cannot forge lines", "[units]") {
  CHECK(ShowName("build-1") == "build-1");
  CHECK(ShowName("a b") == "\"a b\"");
  CHECK(ShowName("x\nDELETED /etc") == "\"x\\x0aDELETED /etc\"");
  CHECK(ShowName("\xff\xfe") == "\"\\xff\\xfe\"");
  CHECK(ShowName("-rf") == "-rf");
  CHECK(ShowName("") == "\"\"");
}

TEST_CASE("JSON with invalid UTF-8 in a string is still printed", "[units]") {
  nlohmann::json j = {{"entry", std::string("bad\xff")}};
  CHECK(DumpJson(j) == "{\"entry\":\"bad\xef\xbf\xbd\"}");
  CHECK(LabelsJson({{"op", "read"}}) == nlohmann::json{{"op", "read"}});
}

}  // namespace
TEST_CASE("a duration in milliseconds parses to exactly that many (found by the fuzzer)",
          "[units]") {
  CHECK(ParseDuration("8303309ms") == std::chrono::milliseconds(8303309));
  CHECK(ParseDuration("1h30m") == std::chrono::minutes(90));
  CHECK(ParseDuration("0.001s") == std::chrono::milliseconds(1));
  CHECK(ParseDuration(FormatDuration(std::chrono::milliseconds(8303309))) ==
        std::chrono::milliseconds(8303309));
}

}  // namespace cachewarden
