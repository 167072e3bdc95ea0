#pragma once

#include <string>

#include "agent/cli.h"
#include "probes/scan.h"

namespace cachewarden {

// `cachewarden scan [--root DIR] [--top N] [--json]`: one walk of the cache, printed for a person
// (largest first, human units, one screen) or as the scan probe's JSON. Exit 0, 64 on a bad flag,
// 78 on bad config, 74 if the root cannot be scanned.
int ScanCommand(const CommandLine& cl);

// The text rendering (for tests): groups, largest entries, dind summary, largest files, mount
// points and skips.
std::string ScanReportText(const ScanData& data, std::size_t top);

}  // namespace cachewarden
