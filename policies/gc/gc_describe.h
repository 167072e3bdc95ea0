#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policies/gc/gc_config.h"

namespace cachewarden {

// One line a person reads to know what a GC policy will delete and when, before it does: "policy
// dind deletes dind/* (not cache_*) idle over 1d, or while the volume is over 85% used, oldest
// first until 80%; never an entry idle under 6h or held open; checked every 1m". The daemon logs
// it at start, /status and `config print` users see the same words. Pure.
std::string DescribeGcPolicy(const GcPolicy& policy);

// The line for the whole `gc` section: "gc: disabled ..." when off, else one DescribeGcPolicy line
// per policy, each prefixed "gc: ".
std::vector<std::string> DescribeGc(const GcConfig& gc);

// /status's view of the same: {"enabled", "policies": [{"name", "description"}]}, the
// descriptions those of DescribeGcPolicy.
nlohmann::json GcPolicyStatus(const GcConfig& gc);

}  // namespace cachewarden
