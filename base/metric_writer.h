#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cachewarden {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Cumulative histogram state: `bounds` are the upper bounds (ascending, +Inf implied); `counts[i]`
// is the number of observations <= bounds[i] (not cumulative across buckets: the writer
// accumulates); counts.size() == bounds.size() + 1, the last one for +Inf.
struct HistogramValue {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
  void Observe(double v);
  std::uint64_t Count() const;
  explicit HistogramValue(std::vector<double> b = {})
      : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
};

// Builds Prometheus metric families from plain values, at scrape time or for a textfile. Samples
// with the same name join one family; the first call for a name fixes its help and type. Not
// thread-safe: one writer per collection.
class MetricWriter {
 public:
  void Gauge(std::string_view name, std::string_view help, double value, MetricLabels labels = {});
  void Counter(std::string_view name, std::string_view help, double value,
               MetricLabels labels = {});
  void Histogram(std::string_view name, std::string_view help, const HistogramValue& value,
                 MetricLabels labels = {});

  // The families written so far, in first-written order; empties the writer.
  std::vector<prometheus::MetricFamily> Take();

 private:
  prometheus::MetricFamily& Family(std::string_view name, std::string_view help,
                                   prometheus::MetricType type);
  std::vector<prometheus::MetricFamily> families_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

}  // namespace cachewarden
