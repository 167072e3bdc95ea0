#pragma once

#include <vector>

#include "policies/alerts/alert_config.h"
#include "policies/alerts/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

// What `check` reports: every finding of every assessor over one snapshot. Pure: reads only the
// snapshot (and the time, for the alert rules). Alert rules that fire now become findings, with
// their description as the remedy.
std::vector<Finding> Assess(const Snapshot& snapshot, const AlertsConfig& alerts);
// With the alert rules' default thresholds.
std::vector<Finding> Assess(const Snapshot& snapshot);

}  // namespace cachewarden
