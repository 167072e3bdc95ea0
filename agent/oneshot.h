#pragma once

#include <memory>

#include "agent/config.h"
#include "probes/snapshot.h"

namespace cachewarden {

// The one-shot modes' pipeline (check, textfile): every enabled probe once, in table order (a probe
// sees the results of those before it), each on a ProbeWorker with its deadline, exactly as the
// daemon runs them.
std::shared_ptr<const Snapshot> CollectOnce(const Config& config);

}  // namespace cachewarden
