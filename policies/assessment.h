#pragma once

#include <vector>

#include "policies/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

// What `check` reports: every finding of every assessor over one snapshot.
// Pure: reads only the snapshot.
std::vector<Finding> Assess(const Snapshot& snapshot);

}  // namespace cachewarden
