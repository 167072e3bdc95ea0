#include "policies/alerts/rules/debug_port_open.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"
#include "probes/exposure.h"

namespace cachewarden {

constinit const RuleDef kBuildkitDebugPortOpen = {
    .name = "BuildkitDebugPortOpen",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = {},
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractDebugPort, &DecideDebugPortOpen>,
};

std::optional<DebugPortInput> ExtractDebugPort(const Snapshot& s, SystemTime) {
  auto x = s.Get<ExposureData>();
  if (x == nullptr || x->pid == 0 || !x->debug_port) return std::nullopt;
  return DebugPortInput{x->pid, x->debug_port->port, x->debug_port->listening,
                        x->debug_port->all_interfaces,
                        fmt::format("{}", fmt::join(x->debug_port->bound, ", "))};
}

void DecideDebugPortOpen(const DebugPortInput& in, const RuleConfig&, RuleOutcome* out) {
  Candidate cand = MakeCandidate(Severity::kWarning, in.listening, in.listening, in.listening);
  cand.labels = {{"port", std::to_string(in.port)}};
  cand.summary = fmt::format("buildkitd's debug port {} is open ({}{})", in.port, in.bound,
                             in.all_interfaces ? ": all interfaces" : "");
  cand.description = fmt::format(
      "Port {} listens in the network namespace of buildkitd (pid {}) on {}: BuildKit's debug "
      "(pprof) handler needs no authentication, so anyone who reaches it reads profiles and "
      "goroutine dumps and can load the daemon. Turn it off (unset BUILDKIT_PPROF_ENABLED in "
      "Earthly's image, drop --debugaddr / debugAddress), or bind it to 127.0.0.1 and never expose "
      "it.",
      in.port, in.pid, in.bound);
  out->candidates.push_back(std::move(cand));
  if (!in.listening) {
    out->ok_summary =
        fmt::format("No debug port {} open beside buildkitd (pid {})", in.port, in.pid);
  }
}

}  // namespace cachewarden
