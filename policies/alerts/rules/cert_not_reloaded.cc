#include "policies/alerts/rules/cert_not_reloaded.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"

namespace cachewarden {
namespace {

constexpr RuleParam kReloadParams[] = {{"grace", ParamKind::kDuration, 3600}};

}  // namespace

constinit const RuleDef kBuildkitCertNotReloaded = {
    .name = "BuildkitCertNotReloaded",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = kReloadParams,
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractEndpoints, &DecideCertNotReloaded>,
};

void DecideCertNotReloaded(const EndpointsInput& in, const RuleConfig& c, RuleOutcome* out) {
  const double grace = c.Param("grace");
  std::vector<std::string> same;
  std::size_t compared = 0;
  for (const auto& e : in.endpoints) {
    if (!e.cert_compared) continue;
    ++compared;
    if (!e.reload_pending) same.push_back(e.address);
    const bool fires = e.reload_pending && e.pending_seconds > grace;
    Candidate cand = MakeCandidate(Severity::kWarning, fires, fires, e.pending_seconds);
    cand.labels = {{"address", e.address}};
    cand.summary =
        fmt::format("BuildKit at {} still serves the old certificate: {} was renewed {} ago",
                    e.address, e.cert_file, DurationText(e.pending_seconds));
    cand.description = fmt::format(
        "The certificate in {} differs from the one BuildKit at {} serves, and has for {} (grace "
        "{}). buildkitd reads its certificates only when it starts (moby/buildkit#2172): the "
        "renewed certificate is not served, and the served one expires. Restart buildkitd after a "
        "renewal (a cert-manager renewal can trigger a rollout of its pod).",
        e.cert_file, e.address, DurationText(e.pending_seconds), DurationText(grace));
    out->candidates.push_back(std::move(cand));
  }
  if (compared > 0 && same.size() == compared) {
    out->ok_summary = fmt::format("BuildKit at {} serves the certificate in {}",
                                  fmt::join(same, ", "), in.endpoints.front().cert_file);
  }
}

}  // namespace cachewarden
