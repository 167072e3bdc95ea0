#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/config.h"
#include "policies/alerts/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

// "cache root /x does not exist" (or "is not a directory") when `s` failed because the cache root
// `root` is not there; "" for any other outcome. One sentence for check, /status and scan.
std::string RootMissing(const Status& s, const std::string& root);

// What `check` concludes and /status shows, from one snapshot at `now` (one code for both), worst
// first (rule order among equals; text, JSON and /status share this order): the findings of the
// rule set (Assess), or, when the cache root does not exist, that one finding
// (UNKNOWN, rule "CacheRootMissing"): every probe's failure and every rule's OK line would be about
// a path that is not there.
std::vector<Finding> CheckFindings(const Config& config, const Snapshot& snapshot, SystemTime now);

// {"status", "exit_code", "findings"} of `findings`: what `check --json` and /status both carry.
// Each finding is {"severity", "source", "summary", "remedy"}, its source the rule and its labels.
nlohmann::json VerdictJson(const std::vector<Finding>& findings);

// `check`'s report: first a Monitoring Plugins status line, "CACHEWARDEN WARNING - <the worst
// finding's summary> (and N more) | <perfdata>", then for people the cache's size and what fills it
// (the scan probe's groups), every enabled probe's outcome in one line, then each finding (in the
// given order) with its fix.
std::string CheckReportText(const Config& config, const Snapshot& snapshot,
                            const std::vector<Finding>& findings);

// The figures of `check` as Monitoring Plugins perfdata ('label'=value[UOM];warn;crit;min;max,
// space-separated), thresholds from the rules that judge them: disk_used and inodes_used (%),
// disk_free, cache and cache_<group> (B), cache_inodes, dind_leftovers (B). Those whose probe has
// no data are left out.
std::string CheckPerfdata(const Config& config, const Snapshot& snapshot);
// `check --json`: VerdictJson's keys, "root" and "probes". `now` is the time the findings were
// assessed at (the probes' ages are taken from it).
nlohmann::json CheckReportJson(const Config& config, const Snapshot& snapshot,
                               const std::vector<Finding>& findings, SystemTime now);

}  // namespace cachewarden
