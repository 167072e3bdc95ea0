// BuildkitPlaintextTCP, BuildkitNoClientAuth and BuildkitCertNotReloaded: the rules over the
// exposure probe's judged endpoints (rules/buildkit_endpoints.h).
#include "policies/alerts/rules/buildkit_endpoints.h"

#include <catch2/catch.hpp>

#include "policies/alerts/alert_config.h"
#include "policies/alerts/rules/cert_not_reloaded.h"
#include "policies/alerts/rules/no_client_auth.h"
#include "policies/alerts/rules/plaintext_tcp.h"
#include "probes/exposure.h"
#include "probes/logs.h"

namespace cachewarden {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

RuleConfig Defaults(std::string_view rule) { return DefaultAlertsConfig().Rule(rule); }

EndpointExposure Endpoint(std::string address, Transport t, bool cert_required) {
  EndpointExposure e;
  e.address = std::move(address);
  e.handshake.transport = t;
  e.handshake.client_cert_required = cert_required;
  if (t == Transport::kTls) e.handshake.served = CertInfo{"CN=bk", "CN=ca", {}, {}, "aa"};
  return e;
}

Snapshot With(std::shared_ptr<ExposureData> x, SystemTime now) {
  x->collected = now;
  Snapshot s;
  s.Put<ExposureData>(x, now);
  return s;
}

TEST_CASE("a plaintext BuildKit address is critical, and its text names BUILDKIT_TLS_ENABLED",
          "[alerts][exposure]") {
  FakeClock clock;
  auto x = std::make_shared<ExposureData>();
  x->endpoints.push_back(Endpoint("tcp://10.0.0.1:8372", Transport::kPlaintext, false));
  x->endpoints.push_back(Endpoint("tcp://127.0.0.1:8372", Transport::kTls, true));
  EndpointExposure silent = Endpoint("tcp://10.0.0.2:8372", Transport::kTls, false);
  silent.status = Status::Error(StatusCode::kTimeout, "no answer");
  x->endpoints.push_back(silent);
  x->pid = 9;
  x->buildkit_ports.push_back({8372, true, true, {"0.0.0.0"}});
  auto in = ExtractEndpoints(With(x, clock.Now()), clock.Now());
  REQUIRE(in);
  REQUIRE(in->endpoints.size() == 2);  // the silent one is not judged
  RuleOutcome out;
  DecidePlaintextTCP(*in, Defaults("BuildkitPlaintextTCP"), &out);
  REQUIRE(out.candidates.size() == 2);
  const Candidate& plain = out.candidates[0];
  CHECK(plain.fires);
  CHECK(plain.severity == Severity::kCritical);
  CHECK(plain.labels == MetricLabels{{"address", "tcp://10.0.0.1:8372"}});
  CHECK_THAT(plain.summary, Catch::Contains("plaintext") && Catch::Contains("all interfaces"));
  CHECK_THAT(plain.description, Catch::Contains("BUILDKIT_TLS_ENABLED=true") &&
                                    Catch::Contains("mount the certificates"));
  CHECK_FALSE(out.candidates[1].fires);
  CHECK(out.ok_summary.empty());  // not all is well

  out = {};
  x->endpoints.erase(x->endpoints.begin());
  DecidePlaintextTCP(*ExtractEndpoints(With(x, clock.Now()), clock.Now()),
                     Defaults("BuildkitPlaintextTCP"), &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  CHECK(out.ok_summary == "BuildKit speaks TLS at tcp://127.0.0.1:8372");
  CHECK_FALSE(ExtractEndpoints(Snapshot{}, clock.Now()));
}

TEST_CASE(
    "BuildkitPlaintextTCP takes buildkitd's log where the probe judged no address, and the probe's "
    "verdict where it did",
    "[alerts][exposure][logs]") {
  FakeClock clock;
  auto logs = std::make_shared<LogsData>();
  logs->plaintext_tcp = {"tcp://0.0.0.0:8372"};
  Snapshot s;
  s.Put<LogsData>(logs, clock.Now());
  // The logs probe alone (exposure off): the logged address is critical.
  auto in = ExtractPlaintext(s, clock.Now());
  REQUIRE(in);
  CHECK_FALSE(ExtractEndpoints(s, clock.Now()));  // the other door rules need the probe
  RuleOutcome out;
  DecidePlaintextTCP(*in, Defaults("BuildkitPlaintextTCP"), &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].severity == Severity::kCritical);
  CHECK(out.candidates[0].labels == MetricLabels{{"address", "tcp://0.0.0.0:8372"}});
  CHECK_THAT(out.candidates[0].summary, Catch::Contains("buildkitd's log"));
  CHECK_THAT(out.candidates[0].description,
             Catch::Contains("BUILDKIT_TLS_ENABLED=true") && Catch::Contains("restart buildkitd"));

  // The probe judged an address and found TLS: its handshake stands, the log is not used.
  auto x = std::make_shared<ExposureData>();
  x->endpoints.push_back(Endpoint("tcp://127.0.0.1:8372", Transport::kTls, true));
  x->collected = clock.Now();
  s.Put<ExposureData>(x, clock.Now());
  out = {};
  DecidePlaintextTCP(*ExtractPlaintext(s, clock.Now()), Defaults("BuildkitPlaintextTCP"), &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK_FALSE(out.candidates[0].fires);
  CHECK(out.ok_summary == "BuildKit speaks TLS at tcp://127.0.0.1:8372");

  // buildkitd restarted without the warning (the logs probe cleared it): nothing fires.
  logs->plaintext_tcp.clear();
  Snapshot only_logs;
  only_logs.Put<LogsData>(logs, clock.Now());
  out = {};
  DecidePlaintextTCP(*ExtractPlaintext(only_logs, clock.Now()), Defaults("BuildkitPlaintextTCP"),
                     &out);
  CHECK(out.candidates.empty());
  CHECK_FALSE(ExtractPlaintext(Snapshot{}, clock.Now()));
}

TEST_CASE("TLS that lets in a client without a certificate is critical, and mTLS is not",
          "[alerts][exposure]") {
  FakeClock clock;
  auto x = std::make_shared<ExposureData>();
  x->endpoints.push_back(Endpoint("tcp://a:8372", Transport::kTls, false));
  x->endpoints.push_back(Endpoint("tcp://b:8372", Transport::kTls, true));
  x->endpoints.push_back(Endpoint("tcp://c:8372", Transport::kPlaintext, false));
  RuleOutcome out;
  DecideNoClientAuth(*ExtractEndpoints(With(x, clock.Now()), clock.Now()),
                     Defaults("BuildkitNoClientAuth"), &out);
  REQUIRE(out.candidates.size() == 2);  // plaintext is the other rule's
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].severity == Severity::kCritical);
  CHECK(out.candidates[0].labels == MetricLabels{{"address", "tcp://a:8372"}});
  CHECK_THAT(out.candidates[0].description,
             Catch::Contains("--tlscacert") && Catch::Contains("mount the certificates"));
  CHECK_FALSE(out.candidates[1].fires);
  out = {};
  x->endpoints.erase(x->endpoints.begin());
  DecideNoClientAuth(*ExtractEndpoints(With(x, clock.Now()), clock.Now()),
                     Defaults("BuildkitNoClientAuth"), &out);
  CHECK(out.ok_summary == "BuildKit requires a client certificate at tcp://b:8372");
}

TEST_CASE("a renewed certificate not served fires only after the grace period, and says restart",
          "[alerts][exposure]") {
  FakeClock clock;
  auto x = std::make_shared<ExposureData>();
  x->disk_cert = CertFileExposure{"/etc/cert.pem", "server", Status::Ok(),
                                  CertInfo{"CN=bk", "CN=ca", {}, {}, "bb"}, ""};
  EndpointExposure e = Endpoint("tcp://a:8372", Transport::kTls, true);
  e.reload_pending = true;
  e.differs_since = clock.Now() - minutes(50);
  x->endpoints.push_back(e);
  const RuleConfig c = Defaults("BuildkitCertNotReloaded");
  CHECK(c.Param("grace") == 3600);
  RuleOutcome out;
  DecideCertNotReloaded(*ExtractEndpoints(With(x, clock.Now()), clock.Now()), c, &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK_FALSE(out.candidates[0].fires);
  CHECK(out.candidates[0].value == Approx(3000));

  x->endpoints[0].differs_since = clock.Now() - minutes(70);
  out = {};
  DecideCertNotReloaded(*ExtractEndpoints(With(x, clock.Now()), clock.Now()), c, &out);
  CHECK(out.candidates.at(0).fires);
  CHECK(out.candidates[0].severity == Severity::kWarning);
  CHECK_THAT(out.candidates[0].summary, Catch::Contains("/etc/cert.pem"));
  CHECK_THAT(out.candidates[0].description, Catch::Contains("Restart buildkitd"));

  x->endpoints[0].reload_pending = false;
  out = {};
  DecideCertNotReloaded(*ExtractEndpoints(With(x, clock.Now()), clock.Now()), c, &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  CHECK(out.ok_summary == "BuildKit at tcp://a:8372 serves the certificate in /etc/cert.pem");

  // Without a cert_file there is nothing to compare: no candidate.
  x->disk_cert.reset();
  out = {};
  DecideCertNotReloaded(*ExtractEndpoints(With(x, clock.Now()), clock.Now()), c, &out);
  CHECK(out.candidates.empty());
}

}  // namespace
}  // namespace cachewarden
