#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace cachewarden {

// The Content-Type of ExpositionText's output.
inline constexpr const char* kExpositionContentType = "text/plain; charset=utf-8";

// The Prometheus text format (0.0.4) of `families`. The one serializer of the agent's metrics:
// /metrics and `textfile` both call it, so a scrape and a .prom file cannot differ in format.
// Pure; any thread.
std::string ExpositionText(const std::vector<prometheus::MetricFamily>& families);

}  // namespace cachewarden
