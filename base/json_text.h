#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/metric_writer.h"

namespace cachewarden {

// JSON text of `j`; strings that are not valid UTF-8 (a file or mount name can be any bytes) get
// U+FFFD instead of making dump() throw. indent -1: one line. Every JSON the agent prints, serves
// or sends goes through here.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

// Cuts every array that is a member of an object in `j` (at any depth) to its first `max` elements
// and notes beside it how many went ("<key>_omitted": n). For /status: its lists that grow with the
// cache (dind entries, GC plans, mounts) come largest or most urgent first, so their heads stay.
void BoundArrays(nlohmann::json& j, std::size_t max);
inline constexpr std::string_view kOmittedSuffix = "_omitted";

// {"k": "v", ...} of a label set.
nlohmann::json LabelsJson(const MetricLabels& labels);

}  // namespace cachewarden
