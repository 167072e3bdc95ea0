#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitCertExpiring: a certificate of BuildKit's door expires within `warning_before` (14d) or
// `critical_before` (3d), or has expired: the one an address serves (labelled `address`) or a
// configured file (labelled `file` and `role`: server, ca, client).
extern const RuleDef kBuildkitCertExpiring;

struct CertExpiryInput {
  struct Cert {
    MetricLabels labels;  // {address} or {file, role}
    std::string what;     // "the certificate BuildKit at tcp://... serves", "CA file /etc/ca.pem"
    std::string subject;
    double seconds_left = 0;  // negative: expired
    bool served = false;
    // Served only: the certificate file on disk is a different one (a renewal not yet served).
    bool disk_differs = false;
  };
  std::vector<Cert> certs;
};

// Needs the exposure probe's data; the time left is counted from `now`.
std::optional<CertExpiryInput> ExtractCertExpiry(const Snapshot& s, SystemTime now);
void DecideCertExpiring(const CertExpiryInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
