#include "actions/notifier.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>

#include "agent/alert_component.h"
#include "tests/support/http_receiver.h"
#include "tests/support/peers.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using std::chrono::seconds;

NotificationBatch Batch(bool resolved) {
  OutgoingAlert a;
  a.labels = {{"alertname", "CacheDiskAlmostFull"}, {"severity", "critical"}, {"instance", "n1"}};
  a.annotations = {{"summary", "full"}};
  a.starts_at = SystemTime(seconds(1'700'000'000));
  a.ends_at = a.starts_at + seconds(240);
  a.resolved = resolved;
  a.generator_url = "http://n1:9479/status";
  OutgoingAlert b = a;
  b.labels[1].second = "warning";
  return {{a, b}, true};
}

TEST_CASE("the Alertmanager payload is a list of postable alerts", "[alerts][notifier]") {
  auto j = AlertmanagerPayload(Batch(false));
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 2);
  CHECK(j[0]["labels"]["alertname"] == "CacheDiskAlmostFull");
  CHECK(j[0]["startsAt"] == "2023-11-14T22:13:20.000Z");
  CHECK(j[0]["endsAt"] == "2023-11-14T22:17:20.000Z");
  CHECK(j[0]["generatorURL"] == "http://n1:9479/status");
  CHECK(j[0]["annotations"]["summary"] == "full");
}

TEST_CASE("the webhook payload has Alertmanager's webhook shape", "[alerts][notifier]") {
  auto j = WebhookPayload(Batch(true));
  CHECK(j["version"] == "4");
  CHECK(j["status"] == "resolved");
  CHECK(j["alerts"].size() == 2);
  CHECK(j["alerts"][0]["status"] == "resolved");
  CHECK(j["commonLabels"] ==
        nlohmann::json{{"alertname", "CacheDiskAlmostFull"}, {"instance", "n1"}});
  CHECK(j["commonAnnotations"]["summary"] == "full");
  CHECK(WebhookPayload(Batch(false))["status"] == "firing");
}

TEST_CASE("an unreachable notifier retries with backoff, counts failures and drops old batches",
          "[alerts][notifier]") {
  auto stats = std::make_shared<NotifierStats>();
  HttpTargetConfig target;
  target.url = "http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  target.timeout = seconds(1);
  HttpNotifier n(HttpNotifier::Kind::kAlertmanager, target, std::chrono::milliseconds(200), 2,
                 stats);
  for (int i = 0; i < 5; ++i) n.Enqueue(Batch(false));
  CHECK(testing::WaitUntil([&] { return stats->Get("alertmanager", "failure") >= 3; }));
  // Five batches into a queue of two: three dropped at once, and the one being retried is
  // superseded by the newer one.
  CHECK(stats->Get("alertmanager", "dropped") >= 3);
  CHECK(stats->Get("alertmanager", "success") == 0);
  MetricWriter w;
  stats->Export(w);
  auto families = w.Take();
  REQUIRE(families.size() == 2);
  CHECK(families[0].name == "cachewarden_notifications_total");
  CHECK(families[1].name == "cachewarden_notification_latency_seconds");
  n.RequestStop();
  CHECK(testing::WaitUntil([&] { return n.Exited(); }, seconds(3)));
}

TEST_CASE("a webhook sends only batches in which an alert changed", "[alerts][notifier]") {
  auto stats = std::make_shared<NotifierStats>();
  HttpTargetConfig target;
  target.url = "http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort()) + "/hook";
  // A queue of one: a queued resend would be dropped by the next batch.
  HttpNotifier n(HttpNotifier::Kind::kWebhook, target, seconds(10), 1, stats);
  NotificationBatch resend = Batch(false);
  resend.changed = false;
  n.Enqueue(resend);
  n.Enqueue(Batch(false));
  CHECK(testing::WaitUntil([&] { return stats->Get("webhook", "failure") >= 1; }));
  n.RequestStop();
  CHECK(testing::WaitUntil([&] { return n.Exited(); }, seconds(3)));
  CHECK(stats->Get("webhook", "dropped") == 0);
}

TEST_CASE("outgoing alerts carry instance, the downward API's pod labels and external labels",
          "[alerts][notifier]") {
  // The Kubernetes downward API sets these in the agent's container.
  ::setenv("POD_NAME", "buildkitd-0", 1);
  ::setenv("POD_NAMESPACE", "ci", 1);
  ::setenv("NODE_NAME", "node-7", 1);
  AlertsConfig c = DefaultAlertsConfig();
  c.alertmanager.external_labels = {{"cluster", "eu"}, {"node", "from-config"}};
  MetricLabels l = AlertComponent::CommonLabels(c);
  ::unsetenv("POD_NAME");
  ::unsetenv("POD_NAMESPACE");
  ::unsetenv("NODE_NAME");
  std::map<std::string, std::string> m(l.begin(), l.end());
  CHECK(m.size() == l.size());  // no label twice
  CHECK_FALSE(m["instance"].empty());
  CHECK(m["pod"] == "buildkitd-0");
  CHECK(m["namespace"] == "ci");
  CHECK(m["node"] == "from-config");  // external_labels win
  CHECK(m["cluster"] == "eu");
  // Without the environment: only instance and the external labels.
  std::map<std::string, std::string> bare;
  for (const auto& [k, v] : AlertComponent::CommonLabels(DefaultAlertsConfig())) bare[k] = v;
  CHECK_FALSE(bare.contains("pod"));
}

TEST_CASE("a webhook delivers the alert list with its bearer token", "[alerts][notifier]") {
  testing::HttpReceiver hook;
  auto stats = std::make_shared<NotifierStats>();
  HttpTargetConfig target;
  target.url = hook.Url("/hook");
  target.bearer_token = "s3cret";
  HttpNotifier n(HttpNotifier::Kind::kWebhook, target, seconds(1), 4, stats);
  n.Enqueue(Batch(false));
  REQUIRE(hook.WaitFor(1));
  auto r = hook.requests().at(0);
  CHECK_THAT(r.head, Catch::StartsWith("POST /hook HTTP/1.1"));
  CHECK_THAT(r.head, Catch::Contains("Authorization: Bearer s3cret"));
  CHECK_THAT(r.head, Catch::Contains("Content-Type: application/json"));
  auto body = nlohmann::json::parse(r.body);
  CHECK(body["status"] == "firing");
  CHECK(body["alerts"].size() == 2);
  CHECK(testing::WaitUntil([&] { return stats->Get("webhook", "success") == 1; }));
  n.RequestStop();
  CHECK(testing::WaitUntil([&] { return n.Exited(); }, seconds(3)));
}

TEST_CASE("Alertmanager gets POST /api/v2/alerts with basic auth, and 5xx is retried",
          "[alerts][notifier]") {
  testing::HttpReceiver failing(503);
  testing::HttpReceiver am;
  auto stats = std::make_shared<NotifierStats>();
  HttpTargetConfig target;
  target.url = am.Url("");
  target.basic_username = "u";
  target.basic_password = "p";
  HttpNotifier n(HttpNotifier::Kind::kAlertmanager, target, seconds(1), 4, stats);
  n.Enqueue(Batch(false));
  REQUIRE(am.WaitFor(1));
  auto r = am.requests().at(0);
  CHECK_THAT(r.head, Catch::StartsWith("POST /api/v2/alerts HTTP/1.1"));
  CHECK_THAT(r.head,
             Catch::Contains("Authorization: Basic dTpw"));  // base64("u:p")
  CHECK(nlohmann::json::parse(r.body).size() == 2);
  n.RequestStop();
  CHECK(testing::WaitUntil([&] { return n.Exited(); }, seconds(3)));

  // A 503 is a failure, retried with backoff: the same batch arrives again.
  HttpTargetConfig down;
  down.url = failing.Url("");
  HttpNotifier m(HttpNotifier::Kind::kAlertmanager, down, std::chrono::milliseconds(100), 4, stats);
  m.Enqueue(Batch(false));
  REQUIRE(failing.WaitFor(3));
  CHECK(stats->Get("alertmanager", "failure") >= 2);
  m.RequestStop();
  CHECK(testing::WaitUntil([&] { return m.Exited(); }, seconds(3)));
}

TEST_CASE("an HTTPS notifier trusts its ca_file, and without it refuses an unknown certificate",
          "[alerts][notifier]") {
  testing::TempDir dir;
  testing::TlsFiles tls;
  REQUIRE(testing::MakeSelfSignedCert(dir.path(), &tls) == "");
  testing::HttpReceiver am(200, tls);
  auto stats = std::make_shared<NotifierStats>();
  HttpTargetConfig target;
  target.url = am.Url("");
  REQUIRE_THAT(target.url, Catch::StartsWith("https://"));

  // The system's CA bundle does not know the receiver's certificate: the handshake fails, nothing
  // is delivered, the failure is counted.
  HttpNotifier untrusting(HttpNotifier::Kind::kAlertmanager, target, seconds(10), 4, stats);
  untrusting.Enqueue(Batch(false));
  REQUIRE(am.WaitForFailedHandshakes(1));
  CHECK(testing::WaitUntil([&] { return stats->Get("alertmanager", "failure") >= 1; }));
  untrusting.RequestStop();
  CHECK(testing::WaitUntil([&] { return untrusting.Exited(); }, seconds(3)));
  CHECK(am.requests().empty());

  // With the certificate as its CA file, the alerts arrive over TLS.
  target.ca_file = tls.cert;
  HttpNotifier trusting(HttpNotifier::Kind::kAlertmanager, target, seconds(1), 4, stats);
  trusting.Enqueue(Batch(false));
  REQUIRE(am.WaitFor(1));
  CHECK_THAT(am.requests()[0].head, Catch::StartsWith("POST /api/v2/alerts HTTP/1.1"));
  CHECK(nlohmann::json::parse(am.requests()[0].body).size() == 2);
  CHECK(testing::WaitUntil([&] { return stats->Get("alertmanager", "success") == 1; }));
  trusting.RequestStop();
  CHECK(testing::WaitUntil([&] { return trusting.Exited(); }, seconds(3)));
}

}  // namespace
}  // namespace cachewarden
