#pragma once

#include <cstddef>
#include <deque>

#include "base/clock.h"

namespace cachewarden {

// Fill rate and time-to-full from a sliding window of samples: a least-squares line through (time,
// used), like Prometheus' predict_linear() over a range. Pure math, no I/O; a plain value, not
// thread-safe.

struct GrowthEstimate {
  bool valid = false;          // enough samples over a long enough span
  double rate_per_second = 0;  // slope of used over time (negative: shrinking)
  // Seconds until `remaining` is used up at that rate; +Inf when not filling (rate <= 0).
  // Meaningless unless `valid`.
  double seconds_to_full = 0;
  std::size_t samples = 0;
  double span_seconds = 0;  // newest sample time - oldest
};

class GrowthWindow {
 public:
  // Keeps samples no older than `window` before the newest one, and at most `max_samples` (the
  // oldest go first).
  GrowthWindow(Duration window, std::size_t max_samples);

  void Add(SystemTime at, double used);
  // The estimate from the samples held: valid when there are at least `min_samples` spanning at
  // least `min_span`. `remaining` is what is left (free bytes, free inodes) at the newest sample.
  GrowthEstimate Estimate(double remaining, std::size_t min_samples, Duration min_span) const;
  std::size_t size() const { return samples_.size(); }
  void Clear() { samples_.clear(); }

 private:
  struct Sample {
    SystemTime at;
    double used;
  };
  Duration window_;
  std::size_t max_samples_;
  std::deque<Sample> samples_;
};

// Least-squares slope of y over x (units of y per unit of x); 0 when fewer than two points or all x
// equal.
double LeastSquaresSlope(const double* x, const double* y, std::size_t n);

}  // namespace cachewarden
