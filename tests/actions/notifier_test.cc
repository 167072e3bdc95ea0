#include "actions/notifier.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

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

// Batch(false) marked with `id` (an annotation), to tell which batch a request carried.
NotificationBatch Numbered(int id) {
  NotificationBatch b = Batch(false);
  for (auto& a : b.alerts) a.annotations.emplace_back("batch", std::to_string(id));
  return b;
}

std::string Join(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

// The ids of the batches the requests carried, in the order they arrived.
std::vector<std::string> BatchIds(const std::vector<testing::HttpReceiver::Request>& requests,
                                  HttpNotifier::Kind kind) {
  std::vector<std::string> ids;
  for (const auto& r : requests) {
    const auto body = nlohmann::json::parse(r.body);
    const auto& alerts = kind == HttpNotifier::Kind::kWebhook ? body["alerts"] : body;
    ids.push_back(alerts.at(0)["annotations"].value("batch", ""));
  }
  return ids;
}

TEST_CASE("a failing notifier retries the newest batch with backoff and drops the older ones",
          "[alerts][notifier]") {
  testing::HttpReceiver failing(503);
  auto stats = std::make_shared<NotifierStats>();
  HttpTargetConfig target;
  target.url = failing.Url("");
  HttpNotifier n(HttpNotifier::Kind::kAlertmanager, target, std::chrono::milliseconds(200), 2,
                 stats);
  for (int i = 0; i < 5; ++i) n.Enqueue(Numbered(i));
  REQUIRE(failing.WaitFor(4));
  n.RequestStop();
  REQUIRE(testing::WaitUntil([&] { return n.Exited(); }, seconds(3)));
  // The notifier has exited: no request comes after these.
  const auto ids = BatchIds(failing.requests(), HttpNotifier::Kind::kAlertmanager);
  INFO("batches " << Join(ids));
  // Five batches into a queue of two: the oldest three are dropped at once, and the newest
  // supersedes the one being retried. Before the others came, the notifier may have picked up one
  // older batch and sent it once; everything after it is the newest, retried.
  const auto newest = static_cast<std::size_t>(std::count(ids.begin(), ids.end(), "4"));
  CHECK(newest >= 3);
  CHECK(ids.size() - newest <= 1);
  CHECK(ids.back() == "4");
  // The counters agree with what arrived: every request a failure (the last one perhaps not
  // counted, if the stop came while it was on the wire), nothing delivered, the older batches
  // dropped.
  const double failures = stats->Get("alertmanager", "failure");
  CHECK(failures >= static_cast<double>(ids.size() - 1));
  CHECK(failures <= static_cast<double>(ids.size()));
  CHECK(stats->Get("alertmanager", "success") == 0);
  CHECK(stats->Get("alertmanager", "dropped") >= 3);
  MetricWriter w;
  stats->Export(w);
  auto families = w.Take();
  REQUIRE(families.size() == 2);
  CHECK(families[0].name == "cachewarden_notifications_total");
  CHECK(families[1].name == "cachewarden_notification_latency_seconds");
}

TEST_CASE("an unreachable notifier counts failures and keeps retrying", "[alerts][notifier]") {
  // Nothing listens on the port (held, never listening): no request reaches the wire, so the
  // exported counter is what there is to see.
  testing::RefusingLoopbackPort refusing;
  auto stats = std::make_shared<NotifierStats>();
  HttpTargetConfig target;
  target.url = "http://127.0.0.1:" + std::to_string(refusing.port());
  target.timeout = seconds(1);
  HttpNotifier n(HttpNotifier::Kind::kAlertmanager, target, std::chrono::milliseconds(200), 2,
                 stats);
  n.Enqueue(Batch(false));
  CHECK(testing::WaitUntil([&] { return stats->Get("alertmanager", "failure") >= 3; }));
  CHECK(stats->Get("alertmanager", "success") == 0);
  n.RequestStop();
  CHECK(testing::WaitUntil([&] { return n.Exited(); }, seconds(3)));
}

TEST_CASE("a webhook sends only batches in which an alert changed", "[alerts][notifier]") {
  testing::HttpReceiver hook;
  auto stats = std::make_shared<NotifierStats>();
  HttpTargetConfig target;
  target.url = hook.Url("/hook");
  HttpNotifier n(HttpNotifier::Kind::kWebhook, target, seconds(10), 4, stats);
  NotificationBatch resend = Numbered(1);
  resend.changed = false;
  n.Enqueue(resend);
  n.Enqueue(Numbered(2));
  n.Enqueue(resend);
  n.Enqueue(Numbered(3));
  // Batches go out in order: had an unchanged one been sent, it would have arrived among these.
  REQUIRE(hook.WaitFor(2));
  n.RequestStop();
  REQUIRE(testing::WaitUntil([&] { return n.Exited(); }, seconds(3)));
  CHECK(BatchIds(hook.requests(), HttpNotifier::Kind::kWebhook) ==
        std::vector<std::string>{"2", "3"});
}

TEST_CASE("outgoing alerts carry instance, the downward API's pod labels and external labels",
          "[alerts][notifier]") {
  // The Kubernetes downward API sets these in the agent's container; here, an environment of the
  // test's own.
  std::map<std::string, std::string> env = {
      {"POD_NAME", "buildkitd-0"}, {"POD_NAMESPACE", "ci"}, {"NODE_NAME", "node-7"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  const MetricLabels external = {{"cluster", "eu"}, {"node", "from-config"}};
  MetricLabels l = CommonAlertLabels("n1", external, getenv);
  std::map<std::string, std::string> m(l.begin(), l.end());
  CHECK(m.size() == l.size());  // no label twice
  CHECK(m["instance"] == "n1");
  CHECK(m["pod"] == "buildkitd-0");
  CHECK(m["namespace"] == "ci");
  CHECK(m["node"] == "from-config");  // external_labels win
  CHECK(m["cluster"] == "eu");
  CHECK(m.size() == 5);
  // Without the downward API (an empty value is as unset): only instance and the external labels.
  env = {{"POD_NAME", ""}};
  CHECK(CommonAlertLabels("n1", {}, getenv) == MetricLabels{{"instance", "n1"}});
  CHECK(CommonAlertLabels("n1", external, getenv) ==
        MetricLabels{{"instance", "n1"}, {"cluster", "eu"}, {"node", "from-config"}});
  // The agent's own: this host's name as instance, then the configured external labels.
  AlertsConfig c = DefaultAlertsConfig();
  c.alertmanager.external_labels = external;
  MetricLabels agent = AlertComponent::CommonLabels(c);
  REQUIRE(agent.size() >= 3);
  CHECK(agent.front().first == "instance");
  CHECK_FALSE(agent.front().second.empty());
  CHECK(MetricLabels(agent.end() - 2, agent.end()) == external);
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
  n.RequestStop();
  CHECK(testing::WaitUntil([&] { return n.Exited(); }, seconds(3)));
  CHECK(hook.requests().size() == 1);  // delivered once, not retried
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
  CHECK(am.requests().size() == 1);  // a 2xx is not retried

  // A 503 is a failure, retried with backoff: the same batch arrives again.
  HttpTargetConfig down;
  down.url = failing.Url("");
  HttpNotifier m(HttpNotifier::Kind::kAlertmanager, down, std::chrono::milliseconds(100), 4, stats);
  m.Enqueue(Numbered(7));
  REQUIRE(failing.WaitFor(3));
  m.RequestStop();
  CHECK(testing::WaitUntil([&] { return m.Exited(); }, seconds(3)));
  for (const auto& id : BatchIds(failing.requests(), HttpNotifier::Kind::kAlertmanager)) {
    CHECK(id == "7");
  }
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
  trusting.RequestStop();
  CHECK(testing::WaitUntil([&] { return trusting.Exited(); }, seconds(3)));
  CHECK(am.requests().size() == 1);
}

}  // namespace
}  // namespace cachewarden
