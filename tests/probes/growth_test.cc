#include "probes/growth.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace cachewarden {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const SystemTime kStart{seconds(1'700'000'000)};

TEST_CASE("least squares slope of hand-made points", "[growth]") {
  const double x[] = {0, 1, 2, 3};
  const double y[] = {1, 3, 5, 7};
  CHECK(LeastSquaresSlope(x, y, 4) == Approx(2.0));
  const double noisy[] = {0, 2, 2, 4};  // best fit: slope 1.2
  CHECK(LeastSquaresSlope(x, noisy, 4) == Approx(1.2));
  CHECK(LeastSquaresSlope(x, y, 1) == 0);
  const double same_x[] = {5, 5, 5};
  CHECK(LeastSquaresSlope(same_x, y, 3) == 0);
}

TEST_CASE("a steadily filling volume predicts its time to full", "[growth]") {
  GrowthWindow w(hours(6), 4096);
  // 1 MB per minute for an hour.
  for (int i = 0; i <= 60; ++i) w.Add(kStart + minutes(i), 1e9 + i * 1e6);
  GrowthEstimate e = w.Estimate(/*remaining=*/120e6, 10, minutes(15));
  REQUIRE(e.valid);
  CHECK(e.samples == 61);
  CHECK(e.span_seconds == Approx(3600));
  CHECK(e.rate_per_second == Approx(1e6 / 60));
  CHECK(e.seconds_to_full == Approx(120 * 60));
}

TEST_CASE("a shrinking or flat volume is not filling", "[growth]") {
  GrowthWindow w(hours(6), 4096);
  for (int i = 0; i <= 30; ++i) w.Add(kStart + minutes(i), 5e9 - i * 1e6);
  GrowthEstimate e = w.Estimate(1e9, 10, minutes(15));
  REQUIRE(e.valid);
  CHECK(e.rate_per_second < 0);
  CHECK(std::isinf(e.seconds_to_full));
  GrowthWindow flat(hours(6), 4096);
  for (int i = 0; i <= 30; ++i) flat.Add(kStart + minutes(i), 5e9);
  CHECK(std::isinf(flat.Estimate(1e9, 10, minutes(15)).seconds_to_full));
}

TEST_CASE("growth needs enough samples over a long enough span", "[growth]") {
  GrowthWindow w(hours(6), 4096);
  for (int i = 0; i < 5; ++i) w.Add(kStart + minutes(i * 10), i * 1e6);
  CHECK_FALSE(w.Estimate(1e9, 10, minutes(15)).valid);  // 5 samples
  GrowthWindow quick(hours(6), 4096);
  for (int i = 0; i < 20; ++i) quick.Add(kStart + seconds(i), i * 1e6);
  CHECK_FALSE(quick.Estimate(1e9, 10, minutes(15)).valid);  // 19 s span
}

TEST_CASE("the window forgets old samples and follows the recent trend", "[growth]") {
  GrowthWindow w(hours(1), 4096);
  // Two hours of fast growth, then an hour flat: only the flat hour counts.
  for (int i = 0; i <= 120; ++i) w.Add(kStart + minutes(i), i * 1e7);
  for (int i = 121; i <= 180; ++i) w.Add(kStart + minutes(i), 120 * 1e7);
  GrowthEstimate e = w.Estimate(1e9, 10, minutes(15));
  CHECK(e.span_seconds <= 3600);
  CHECK(e.rate_per_second == Approx(0).margin(1e-9));
  GrowthWindow capped(hours(6), 8);
  for (int i = 0; i < 100; ++i) capped.Add(kStart + minutes(i), i);
  CHECK(capped.size() == 8);
  // A clock jump backwards starts over.
  capped.Add(kStart, 0);
  CHECK(capped.size() == 1);
}

}  // namespace
}  // namespace cachewarden
