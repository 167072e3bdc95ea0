#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "agent/config.h"
#include "agent/probe_worker.h"
#include "probes/snapshot.h"

namespace cachewarden {

// The one-shot modes' pipeline (check, textfile): every enabled probe once, in table order (a probe
// sees the results of those before it), each a fresh instance on a ProbeWorker with its deadline,
// exactly as the daemon runs them.
std::shared_ptr<const Snapshot> CollectOnce(const Config& config);

// The same for the enabled probes named in `names` only (still in table order), for a mode that
// needs only some figures: `gc` collects the volume's and nothing else.
std::shared_ptr<const Snapshot> CollectOnce(const Config& config,
                                            std::span<const std::string_view> names);

// One run of `probe` (configured by `spec`) on a ProbeWorker of its own, seeing `previous`. A run
// past spec.timeout is cancelled and abandoned (its thread left to finish alone) and reported as
// TimeoutOutcome. Blocks for at most about spec.timeout.
RunOutcome RunProbeOnce(const ProbeSpec& spec, std::shared_ptr<Probe> probe,
                        const ProbeContext& context, std::shared_ptr<const Snapshot> previous);

}  // namespace cachewarden
