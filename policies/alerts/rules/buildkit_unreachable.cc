#include "policies/alerts/rules/buildkit_unreachable.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"
#include "probes/buildkit.h"

namespace cachewarden {

constinit const RuleDef kBuildkitUnreachable = {
    .name = "BuildkitUnreachable",
    .default_for = std::chrono::minutes(5),
    .default_keep_firing_for = std::chrono::minutes(1),
    .params = {},
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractUnreachable, &DecideUnreachable>,
};

std::optional<UnreachableInput> ExtractUnreachable(const Snapshot& s, SystemTime) {
  const ProbeResult* r = s.Find(BuildkitData::kProbe);
  if (r == nullptr) return std::nullopt;
  UnreachableInput in;
  auto add_down = [&](const std::vector<BuildkitUnreachable>& down) {
    for (const auto& u : down) {
      in.addresses.push_back(
          {u.address, false, std::string(u.status.reason()), u.status.message()});
    }
  };
  if (r->status.ok()) {
    const auto* data = dynamic_cast<const BuildkitData*>(r->data.get());
    if (data == nullptr) return std::nullopt;
    add_down(data->unreachable);
    in.addresses.push_back({data->address, true, "", ""});
    return in;
  }
  const auto* down = dynamic_cast<const BuildkitDownData*>(r->failure.get());
  if (down == nullptr) return std::nullopt;
  add_down(down->unreachable);
  return in;
}

void DecideUnreachable(const UnreachableInput& in, const RuleConfig&, RuleOutcome* out) {
  std::size_t up = 0;
  for (const auto& a : in.addresses) {
    Candidate cand = MakeCandidate(Severity::kWarning, !a.up, false, a.up ? 1 : 0);
    cand.labels = {{"address", a.address}};
    cand.summary = fmt::format("BuildKit at {} does not answer ({})", a.address, a.reason);
    cand.description = fmt::format(
        "cachewarden could not reach BuildKit at {}: {}. BuildKit's own figures (records, GC "
        "policies, GC analytics) are stale, the rules on them cannot fire, and the prune GC action "
        "does nothing. Check that buildkitd runs (a crash loop: BuildkitRestarting), that the "
        "socket or port is the one in probes.buildkit.address and visible to the agent (a shared "
        "volume or /proc/<pid>/root/...), and for tcp:// the tls files (ca, cert, key) against "
        "buildkitd's --tlscacert.",
        a.address, a.error);
    out->candidates.push_back(std::move(cand));
    up += a.up ? 1 : 0;
  }
  if (up > 0 && up == in.addresses.size()) {
    out->ok_summary = fmt::format("BuildKit at {} answers", in.addresses.back().address);
  }
}

}  // namespace cachewarden
