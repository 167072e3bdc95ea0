#include "probes/growth.h"

#include <limits>
#include <vector>

namespace cachewarden {

double LeastSquaresSlope(const double* x, const double* y, std::size_t n) {
  if (n < 2) return 0;
  // Centred sums: stable with x in epoch seconds and y in bytes.
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : 0;
}

GrowthWindow::GrowthWindow(Duration window, std::size_t max_samples)
    : window_(window), max_samples_(max_samples < 2 ? 2 : max_samples) {}

void GrowthWindow::Add(SystemTime at, double used) {
  // A clock that went backwards makes the old samples meaningless.
  if (!samples_.empty() && at < samples_.back().at) samples_.clear();
  samples_.push_back({at, used});
  while (!samples_.empty() && samples_.front().at < at - window_) samples_.pop_front();
  while (samples_.size() > max_samples_) samples_.pop_front();
}

GrowthEstimate GrowthWindow::Estimate(double remaining, std::size_t min_samples,
                                      Duration min_span) const {
  GrowthEstimate e;
  e.samples = samples_.size();
  if (samples_.empty()) return e;
  const SystemTime first = samples_.front().at;
  e.span_seconds = ToSeconds(samples_.back().at - first);
  std::vector<double> x, y;
  x.reserve(samples_.size());
  y.reserve(samples_.size());
  for (const auto& s : samples_) {
    x.push_back(ToSeconds(s.at - first));
    y.push_back(s.used);
  }
  e.rate_per_second = LeastSquaresSlope(x.data(), y.data(), x.size());
  e.valid = e.samples >= min_samples && e.samples >= 2 && e.span_seconds >= ToSeconds(min_span);
  e.seconds_to_full = e.rate_per_second > 0 ? (remaining > 0 ? remaining / e.rate_per_second : 0)
                                            : std::numeric_limits<double>::infinity();
  return e;
}

}  // namespace cachewarden
