#include "policies/alerts/rules/plaintext_tcp.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"

namespace cachewarden {

constinit const RuleDef kBuildkitPlaintextTCP = {
    .name = "BuildkitPlaintextTCP",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = {},
    .severities = kCriticalOnly,
    .eval = &EvalOf<&ExtractPlaintext, &DecidePlaintextTCP>,
};

namespace {

// What anyone who reaches a plaintext port can do, and the fix: one text for both sources.
constexpr std::string_view kPlaintextRisk =
    "no TLS, no client certificate. buildkitd runs whatever build it is sent, so anyone who "
    "reaches the port runs code as buildkitd (root in most setups). Turn on TLS: set "
    "BUILDKIT_TLS_ENABLED=true (Earthly's buildkitd image) or start buildkitd with --tlscacert, "
    "--tlscert and --tlskey, and mount the certificates (ca.pem, cert.pem, key.pem) into its "
    "container, then restart buildkitd; or serve BuildKit on a unix socket or 127.0.0.1 only.";

}  // namespace

void DecidePlaintextTCP(const EndpointsInput& in, const RuleConfig&, RuleOutcome* out) {
  std::vector<std::string> tls;
  for (const auto& e : in.endpoints) {
    const bool plain = !e.tls;
    if (!plain) tls.push_back(e.address);
    Candidate cand = MakeCandidate(Severity::kCritical, plain, plain, plain ? 1 : 0);
    cand.labels = {{"address", e.address}};
    cand.summary =
        fmt::format("BuildKit at {} serves plaintext gRPC, without TLS{}", e.address, ReachText(e));
    cand.description = fmt::format("BuildKit at {} speaks h2c: {}", e.address, kPlaintextRisk);
    out->candidates.push_back(std::move(cand));
  }
  if (!tls.empty() && tls.size() == in.endpoints.size()) {
    out->ok_summary = fmt::format("BuildKit speaks TLS at {}", fmt::join(tls, ", "));
  }
  // The log is the second source only: where the probe judged an address, its handshake stands
  // (the log may be older than buildkitd's config, and names a listen address, not a reachable
  // one).
  if (!in.endpoints.empty()) return;
  for (const auto& address : in.log_plaintext) {
    Candidate cand = MakeCandidate(Severity::kCritical, true, true, 1);
    cand.labels = {{"address", address}};
    cand.summary = fmt::format(
        "BuildKit at {} serves plaintext gRPC, without TLS (buildkitd's log at its latest start)",
        address);
    cand.description =
        fmt::format("buildkitd logged at its latest start that TLS is not enabled for {}: {}",
                    address, kPlaintextRisk);
    out->candidates.push_back(std::move(cand));
  }
}

}  // namespace cachewarden
