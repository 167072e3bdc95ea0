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
// `check --json`: {"status", "exit_code", "root", "findings", "probes"}.
nlohmann::json CheckReportJson(const Config& config, const Snapshot& snapshot,
                               const std::vector<Finding>& findings);

}  // namespace cachewarden
