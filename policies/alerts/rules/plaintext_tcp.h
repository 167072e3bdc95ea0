#pragma once

#include "policies/alerts/rule.h"
#include "policies/alerts/rules/buildkit_endpoints.h"

namespace cachewarden {

// BuildkitPlaintextTCP (critical): a BuildKit TCP address serves plaintext h2c gRPC. buildkitd runs
// any build it is sent, so anyone who reaches the port runs code as buildkitd (root, in most
// setups). Labelled `address`.
extern const RuleDef kBuildkitPlaintextTCP;

void DecidePlaintextTCP(const EndpointsInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
