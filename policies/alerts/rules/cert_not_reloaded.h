#pragma once

#include "policies/alerts/rule.h"
#include "policies/alerts/rules/buildkit_endpoints.h"

namespace cachewarden {

// BuildkitCertNotReloaded (warning): the certificate file on disk (probes.exposure.cert_file) has
// differed from the one the address serves for longer than `grace` (default 1h). buildkitd reads
// its certificates only at start (moby/buildkit#2172): a renewal (cert-manager) is not served until
// it restarts, and the served one expires meanwhile. Labelled `address`.
extern const RuleDef kBuildkitCertNotReloaded;

void DecideCertNotReloaded(const EndpointsInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
