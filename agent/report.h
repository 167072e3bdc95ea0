#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/config.h"
#include "policies/alerts/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

// `check`'s report for people: the verdict, then each finding with its fix.
std::string CheckReportText(const Config& config, const std::vector<Finding>& findings);
// `check --json`: {"status", "exit_code", "root", "findings", "probes"}; each finding is
// {"severity", "source", "summary", "remedy"}, its source the rule and its labels. `now` is the
// time the findings were assessed at (the probes' ages are taken from it).
nlohmann::json CheckReportJson(const Config& config, const Snapshot& snapshot,
                               const std::vector<Finding>& findings, SystemTime now);

}  // namespace cachewarden
