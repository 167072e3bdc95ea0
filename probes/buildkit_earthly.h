#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "base/metric_writer.h"
#include "probes/buildkit_client.h"

namespace cachewarden {

// What only Earthly's fork of BuildKit serves (ListWorkers' parallelism and GC analytics), as
// /status JSON and metrics: the buildkit probe's share for the fork, kept apart from the fields
// every BuildKit has. Pure; any thread.

// A worker's GC analytics for /status.
nlohmann::json GcAnalyticsJson(const BuildkitGcAnalytics& analytics);

// cachewarden_buildkit_parallelism_* and cachewarden_buildkit_gc_* (analytics) per worker
// (label `worker`), for the workers that have them; nothing for a server that is not the fork.
void ExportEarthlyWorkerMetrics(const std::vector<BuildkitWorker>& workers, MetricWriter& out);

}  // namespace cachewarden
