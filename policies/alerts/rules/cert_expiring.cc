#include "policies/alerts/rules/cert_expiring.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"
#include "probes/exposure.h"

namespace cachewarden {
namespace {

constexpr double kDay = 86400;

constexpr RuleParam kExpiryParams[] = {
    {"warning_before", ParamKind::kDuration, 14 * kDay},
    {"critical_before", ParamKind::kDuration, 3 * kDay},
};

std::string LeftText(double seconds) {
  if (seconds < 0) return fmt::format("expired {:.1f} days ago", -seconds / kDay);
  return fmt::format("expires in {:.1f} days", seconds / kDay);
}

std::string RemedyOf(const CertExpiryInput::Cert& c) {
  if (c.disk_differs) {
    return "The certificate file on disk is already a different one: restart buildkitd to serve "
           "it (buildkitd reads its certificates only at start, moby/buildkit#2172).";
  }
  if (c.served) {
    return "Renew the server certificate (cert.pem) and restart buildkitd after the renewal: it "
           "reads its certificates only at start (moby/buildkit#2172).";
  }
  return "Renew it and roll it out to the clients (and, for the CA or the server's file, restart "
         "buildkitd): connections fail once it has expired.";
}

}  // namespace

constinit const RuleDef kBuildkitCertExpiring = {
    .name = "BuildkitCertExpiring",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = kExpiryParams,
    .severities = kWarningAndCritical,
    .eval = &EvalOf<&ExtractCertExpiry, &DecideCertExpiring>,
};

std::optional<CertExpiryInput> ExtractCertExpiry(const Snapshot& s, SystemTime now) {
  auto x = s.Get<ExposureData>();
  if (x == nullptr) return std::nullopt;
  CertExpiryInput in;
  for (const auto& e : x->endpoints) {
    if (!e.judged() || !e.handshake.served) continue;
    const CertInfo& c = *e.handshake.served;
    in.certs.push_back({{{"address", e.address}},
                        fmt::format("the certificate BuildKit at {} serves", e.address),
                        c.subject,
                        ToSeconds(c.not_after - now),
                        true,
                        e.reload_pending});
  }
  std::vector<const CertFileExposure*> files;
  if (x->disk_cert) files.push_back(&*x->disk_cert);
  for (const auto& f : x->cert_files) files.push_back(&f);
  for (const auto* f : files) {
    if (!f->cert) continue;
    in.certs.push_back({{{"file", f->name()}, {"role", f->role}},
                        fmt::format("the {} certificate file {}", f->role, f->name()),
                        f->cert->subject,
                        ToSeconds(f->cert->not_after - now),
                        false,
                        false});
  }
  return in;
}

void DecideCertExpiring(const CertExpiryInput& in, const RuleConfig& c, RuleOutcome* out) {
  double soonest = kNever;
  for (const auto& cert : in.certs) {
    soonest = std::min(soonest, cert.seconds_left);
    for (auto [sev, key] : {std::pair{Severity::kWarning, "warning_before"},
                            std::pair{Severity::kCritical, "critical_before"}}) {
      const double before = c.Param(key);
      const bool fires = cert.seconds_left < before;
      Candidate cand = MakeCandidate(sev, fires, fires, cert.seconds_left / kDay);
      cand.labels = cert.labels;
      cand.summary =
          fmt::format("{} ({}) {}", cert.what, cert.subject, LeftText(cert.seconds_left));
      cand.description = fmt::format("{} ({}) {} (limit {:g} days). {}", cert.what, cert.subject,
                                     LeftText(cert.seconds_left), before / kDay, RemedyOf(cert));
      out->candidates.push_back(std::move(cand));
    }
  }
  if (!in.certs.empty()) {
    out->ok_summary = fmt::format("{} certificate(s) of BuildKit's TLS: the first {}",
                                  in.certs.size(), LeftText(soonest));
  }
}

}  // namespace cachewarden
