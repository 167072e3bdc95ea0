#include "base/metric_writer.h"

#include <algorithm>
#include <limits>

namespace cachewarden {
namespace {

prometheus::ClientMetric NewMetric(const MetricLabels& labels) {
  prometheus::ClientMetric m;
  for (const auto& [name, value] : labels) m.label.push_back({name, value});
  return m;
}

}  // namespace

void HistogramValue::Observe(double v) {
  auto it = std::lower_bound(bounds.begin(), bounds.end(), v);
  counts[static_cast<std::size_t>(it - bounds.begin())]++;
  sum += v;
}

std::uint64_t HistogramValue::Count() const {
  std::uint64_t n = 0;
  for (auto c : counts) n += c;
  return n;
}

prometheus::MetricFamily& MetricWriter::Family(std::string_view name, std::string_view help,
                                               prometheus::MetricType type) {
  auto it = index_.find(name);
  if (it != index_.end()) return families_[it->second];
  index_.emplace(std::string(name), families_.size());
  families_.push_back({std::string(name), std::string(help), type, {}});
  return families_.back();
}

void MetricWriter::Gauge(std::string_view name, std::string_view help, double value,
                         MetricLabels labels) {
  auto m = NewMetric(labels);
  m.gauge.value = value;
  Family(name, help, prometheus::MetricType::Gauge).metric.push_back(std::move(m));
}

void MetricWriter::Counter(std::string_view name, std::string_view help, double value,
                           MetricLabels labels) {
  auto m = NewMetric(labels);
  m.counter.value = value;
  Family(name, help, prometheus::MetricType::Counter).metric.push_back(std::move(m));
}

void MetricWriter::Histogram(std::string_view name, std::string_view help,
                             const HistogramValue& value, MetricLabels labels) {
  auto m = NewMetric(labels);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < value.bounds.size(); ++i) {
    cumulative += value.counts[i];
    m.histogram.bucket.push_back({cumulative, value.bounds[i]});
  }
  cumulative += value.counts.back();
  m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = value.sum;
  Family(name, help, prometheus::MetricType::Histogram).metric.push_back(std::move(m));
}

std::vector<prometheus::MetricFamily> MetricWriter::Take() {
  index_.clear();
  return std::exchange(families_, {});
}

}  // namespace cachewarden
