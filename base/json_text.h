#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/metric_writer.h"

namespace cachewarden {

// JSON text of `j`; strings that are not valid UTF-8 (a file or mount name can be any bytes) get
// U+FFFD instead of making dump() throw. indent -1: one line. Every JSON the agent prints, serves
// or sends goes through here.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

// {"k": "v", ...} of a label set.
nlohmann::json LabelsJson(const MetricLabels& labels);

}  // namespace cachewarden
