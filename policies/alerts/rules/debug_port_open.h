#pragma once

#include <optional>
#include <string>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitDebugPortOpen (warning): the debug (pprof) port (probes.exposure.debug_port, 6060)
// listens in buildkitd's network namespace. It needs no authentication: anyone who reaches it reads
// profiles and goroutine dumps, and can load the daemon. Labelled `port`.
extern const RuleDef kBuildkitDebugPortOpen;

struct DebugPortInput {
  int pid = 0;
  int port = 0;
  bool listening = false;
  bool all_interfaces = false;
  std::string bound;  // "0.0.0.0, ::"
};

// Needs the exposure probe's data with buildkitd's process found and a debug port configured.
std::optional<DebugPortInput> ExtractDebugPort(const Snapshot& s, SystemTime now);
void DecideDebugPortOpen(const DebugPortInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
