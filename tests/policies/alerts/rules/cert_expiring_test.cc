#include "policies/alerts/rules/cert_expiring.h"

#include <catch2/catch.hpp>

#include "policies/alerts/alert_config.h"
#include "probes/exposure.h"

namespace cachewarden {
namespace {

using std::chrono::days;
using std::chrono::hours;

const Candidate& Of(const RuleOutcome& out, Severity sev, const std::string& label) {
  for (const auto& c : out.candidates) {
    if (c.severity == sev && c.labels.at(0).second == label) return c;
  }
  FAIL("no candidate " << label);
  return out.candidates.front();
}

TEST_CASE("certificates warn 14 days and turn critical 3 days before they expire",
          "[alerts][exposure]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  auto x = std::make_shared<ExposureData>();
  EndpointExposure e;
  e.address = "tcp://a:8372";
  e.handshake.served = CertInfo{"CN=bk", "CN=ca", {}, now + days(2), "aa"};
  x->endpoints.push_back(e);
  x->disk_cert = CertFileExposure{"/etc/cert.pem", "server", Status::Ok(),
                                  CertInfo{"CN=bk", "CN=ca", {}, now + days(10), "bb"}, ""};
  x->cert_files.push_back({"/etc/ca.pem", "ca", Status::Ok(),
                           CertInfo{"CN=ca", "CN=ca", {}, now + days(30), "cc"}, ""});
  x->cert_files.push_back({"/etc/client.pem", "client", Status::Ok(),
                           CertInfo{"CN=c", "CN=ca", {}, now - hours(5), "dd"}, ""});
  x->cert_files.push_back(
      {"/etc/gone.pem", "client", Status::Error(StatusCode::kMissing, "x"), {}, ""});
  Snapshot s;
  s.Put<ExposureData>(x, now);
  auto in = ExtractCertExpiry(s, now);
  REQUIRE(in);
  REQUIRE(in->certs.size() == 4);  // the unreadable file has no date
  RuleOutcome out;
  const RuleConfig c = DefaultAlertsConfig().Rule("BuildkitCertExpiring");
  DecideCertExpiring(*in, c, &out);
  // Served, 2 days left: critical.
  CHECK(Of(out, Severity::kCritical, "tcp://a:8372").fires);
  CHECK_THAT(Of(out, Severity::kCritical, "tcp://a:8372").summary,
             Catch::Contains("expires in 2.0 days"));
  CHECK_THAT(Of(out, Severity::kCritical, "tcp://a:8372").description,
             Catch::Contains("restart buildkitd"));
  // The server's file, 10 days: warning only.
  CHECK(Of(out, Severity::kWarning, "/etc/cert.pem").fires);
  CHECK_FALSE(Of(out, Severity::kCritical, "/etc/cert.pem").fires);
  CHECK(Of(out, Severity::kWarning, "/etc/cert.pem").labels ==
        MetricLabels{{"file", "/etc/cert.pem"}, {"role", "server"}});
  // The CA, 30 days: nothing.
  CHECK_FALSE(Of(out, Severity::kWarning, "/etc/ca.pem").fires);
  // Expired: critical, and said so.
  CHECK(Of(out, Severity::kCritical, "/etc/client.pem").fires);
  CHECK_THAT(Of(out, Severity::kCritical, "/etc/client.pem").summary, Catch::Contains("expired"));
  CHECK_THAT(out.ok_summary, Catch::Contains("4 certificate(s)"));
}

TEST_CASE("a served certificate about to expire whose file is renewed says restart buildkitd",
          "[alerts][exposure]") {
  CertExpiryInput in;
  in.certs.push_back({{{"address", "tcp://a:8372"}}, "served", "CN=bk", 86400.0, true, true});
  RuleOutcome out;
  DecideCertExpiring(in, DefaultAlertsConfig().Rule("BuildkitCertExpiring"), &out);
  CHECK(Of(out, Severity::kCritical, "tcp://a:8372").fires);
  CHECK_THAT(Of(out, Severity::kCritical, "tcp://a:8372").description,
             Catch::Contains("already a different one: restart buildkitd"));
}

}  // namespace
}  // namespace cachewarden
