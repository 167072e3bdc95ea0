#include "policies/alerts/rules/no_client_auth.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"

namespace cachewarden {

constinit const RuleDef kBuildkitNoClientAuth = {
    .name = "BuildkitNoClientAuth",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = {},
    .severities = kCriticalOnly,
    .eval = &EvalOf<&ExtractEndpoints, &DecideNoClientAuth>,
};

void DecideNoClientAuth(const EndpointsInput& in, const RuleConfig&, RuleOutcome* out) {
  std::vector<std::string> mtls;
  std::size_t with_tls = 0;
  for (const auto& e : in.endpoints) {
    if (!e.tls) continue;  // plaintext is BuildkitPlaintextTCP's
    ++with_tls;
    const bool open = !e.client_cert_required;
    if (!open) mtls.push_back(e.address);
    Candidate cand = MakeCandidate(Severity::kCritical, open, open, open ? 1 : 0);
    cand.labels = {{"address", e.address}};
    cand.summary = fmt::format("BuildKit at {} accepts TLS clients without a certificate{}",
                               e.address, ReachText(e));
    cand.description = fmt::format(
        "BuildKit at {} completed a TLS handshake with a client that presented no certificate: "
        "TLS without mTLS, so anyone who reaches the port can run builds as buildkitd. Require "
        "client certificates: start buildkitd with --tlscacert (Earthly's image does with "
        "BUILDKIT_TLS_ENABLED=true and the CA mounted at /etc/ca.pem), mount the certificates, "
        "and give each client its own certificate signed by that CA.",
        e.address);
    out->candidates.push_back(std::move(cand));
  }
  if (with_tls > 0 && mtls.size() == with_tls) {
    out->ok_summary =
        fmt::format("BuildKit requires a client certificate at {}", fmt::join(mtls, ", "));
  }
}

}  // namespace cachewarden
