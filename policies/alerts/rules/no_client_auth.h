#pragma once

#include "policies/alerts/rule.h"
#include "policies/alerts/rules/buildkit_endpoints.h"

namespace cachewarden {

// BuildkitNoClientAuth (critical): a BuildKit TLS address completed the handshake with a client
// that presented no certificate: TLS without mTLS lets anyone who reaches it run builds. Labelled
// `address`.
extern const RuleDef kBuildkitNoClientAuth;

void DecideNoClientAuth(const EndpointsInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
