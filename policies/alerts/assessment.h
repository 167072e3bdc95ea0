#pragma once

#include <vector>

#include "base/clock.h"
#include "policies/alerts/alert_config.h"
#include "policies/alerts/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

// What `check` reports: the current state of every enabled alert rule over one snapshot at `now`,
// as the daemon's alert engine would have it once each rule's `for` has passed (a one-shot has no
// history). For each labelled instance whose condition holds: its highest firing severity (UNKNOWN
// for a rule that says cachewarden could not look, see RuleDef::unknown_in_check), the alert's
// summary and its description as the remedy. A rule none of whose instances fires gives one OK
// finding with its OK line, if it has one; a rule whose input is unknown gives nothing. In the
// rule table's order.
//
// Pure: reads only the snapshot, the config and the `now` it is given (the caller's clock).
std::vector<Finding> Assess(const Snapshot& snapshot, const AlertsConfig& alerts, SystemTime now);

}  // namespace cachewarden
