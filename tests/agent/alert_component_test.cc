#include "agent/alert_component.h"

#include <fmt/format.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <map>

#include "agent/config.h"
#include "tests/support/http_receiver.h"
#include "tests/support/snapshots.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::HttpReceiver;
using testing::VolumeAt;

// The CacheDiskAlmostFull alerts of one POST /api/v2/alerts body, by severity, with `field` of each
// (endsAt, startsAt).
std::map<std::string, std::string> DiskAlerts(const std::string& body,
                                              const std::string& field = "endsAt") {
  std::map<std::string, std::string> out;
  for (const auto& a : nlohmann::json::parse(body)) {
    if (a["labels"]["alertname"] == "CacheDiskAlmostFull") {
      out[a["labels"]["severity"]] = a[field];
    }
  }
  return out;
}

// The daemon's alerting component on a fake clock, sending to two Alertmanagers (an HA pair) and a
// webhook, all loopback receivers. Each step hands it a snapshot as the probes would; the requests
// that arrive show what was sent and when. A request that should not have been sent would arrive
// before the next expected one and fail that one's checks.
TEST_CASE(
    "firing alerts are re-sent every resend_interval and resolved ones for resolve_resend_for, to "
    "every Alertmanager of the set",
    "[alerts][notifier]") {
  FakeClock clock;
  HttpReceiver am1, am2, hook;
  auto config = std::make_shared<Config>(
      LoadConfigText(fmt::format(R"({{
        "root": "/tmp/earthly", "listen": "127.0.0.1:0",
        "alerts": {{
          "evaluation_interval": "15s",
          "rules": {{"CacheDiskAlmostFull": {{"for": "0s", "keep_firing_for": "0s"}}}},
          "alertmanager": {{"urls": ["{}", "{}"], "resend_interval": "1m",
                            "resolve_resend_for": "5m", "queue_size": 64}},
          "webhooks": [{{"url": "{}"}}]}}}})",
                                 am1.Url(""), am2.Url(""), hook.Url("/hook")),
                     "test", {}));
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  AlertComponent alerts(clock);
  alerts.Start(&loop, config);
  // A firing alert's endsAt: 4 resend intervals ahead, so that Alertmanager keeps it through three
  // lost re-sends.
  auto valid_until = [&] { return Rfc3339(clock.Now() + minutes(4)); };

  // 1. The disk fills: both severities fire and go to all three at once.
  const SystemTime fired_at = clock.Now();
  alerts.OnSnapshot(std::make_shared<Snapshot>(VolumeAt(97, clock)));
  REQUIRE(am1.WaitFor(1));
  auto first = DiskAlerts(am1.requests()[0].body);
  CHECK(first == std::map<std::string, std::string>{{"critical", valid_until()},
                                                    {"warning", valid_until()}});
  CHECK(DiskAlerts(am1.requests()[0].body, "startsAt")["critical"] == Rfc3339(fired_at));

  // 2. Half a minute later nothing changed: nothing is sent.
  clock.Advance(seconds(30));
  alerts.OnSnapshot(std::make_shared<Snapshot>(VolumeAt(97, clock)));

  // 3. A minute after the last send, the firing alerts are re-sent to the
  //    Alertmanagers (with a later endsAt); the webhook hears only changes.
  clock.Advance(seconds(31));
  alerts.OnSnapshot(std::make_shared<Snapshot>(VolumeAt(97, clock)));
  REQUIRE(am1.WaitFor(2));
  CHECK(DiskAlerts(am1.requests()[1].body)["critical"] == valid_until());

  // 4. Space is freed: the resolution is sent at once, endsAt = now.
  clock.Advance(seconds(10));
  const std::string resolved_at = Rfc3339(clock.Now());
  alerts.OnSnapshot(std::make_shared<Snapshot>(VolumeAt(50, clock)));
  REQUIRE(am1.WaitFor(3));
  CHECK(DiskAlerts(am1.requests()[2].body)["critical"] == resolved_at);
  REQUIRE(hook.WaitFor(2));
  auto hooked = nlohmann::json::parse(hook.requests()[1].body);
  CHECK(hooked["status"] == "resolved");

  // 5. The resolved alert is re-sent while resolve_resend_for lasts ...
  clock.Advance(seconds(61));
  alerts.OnSnapshot(std::make_shared<Snapshot>(VolumeAt(50, clock)));
  REQUIRE(am1.WaitFor(4));
  CHECK(DiskAlerts(am1.requests()[3].body)["critical"] == resolved_at);

  // 6. ... and not after it: 6 minutes on, there is nothing to send.
  clock.Advance(minutes(5));
  alerts.OnSnapshot(std::make_shared<Snapshot>(VolumeAt(50, clock)));

  // 7. It fires again: sent at once, and it is the next request, so step 6
  //    sent nothing.
  clock.Advance(minutes(1));
  alerts.OnSnapshot(std::make_shared<Snapshot>(VolumeAt(97, clock)));
  REQUIRE(am1.WaitFor(5));
  CHECK(DiskAlerts(am1.requests()[4].body)["critical"] == valid_until());
  CHECK(DiskAlerts(am1.requests()[4].body, "startsAt")["critical"] == Rfc3339(clock.Now()));

  // The other Alertmanager of the pair got the same five requests, and the webhook three: fired,
  // resolved, fired again.
  REQUIRE(am2.WaitFor(5));
  REQUIRE(hook.WaitFor(3));
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(am2.requests()[i].body == am1.requests()[i].body);
  }
  CHECK(nlohmann::json::parse(hook.requests()[2].body)["status"] == "firing");

  bool stopped = false;
  alerts.Stop([&] { stopped = true; });
  while (!stopped && uv_run(&loop, UV_RUN_ONCE) != 0) {
  }
  CHECK(stopped);
  CHECK(uv_loop_close(&loop) == 0);
  CHECK(am1.requests().size() == 5);
  CHECK(hook.requests().size() == 3);
}

TEST_CASE("an alert links to the endpoint's /status, over https when it serves TLS", "[alerts]") {
  Config c = LoadConfigText("{}", "test", {});
  c.bound_port = 9479;
  CHECK(AlertComponent::GeneratorUrl(c).starts_with("http://"));
  CHECK(AlertComponent::GeneratorUrl(c).ends_with(":9479/status"));
  c.web.tls = TlsServerConfig{};
  CHECK(AlertComponent::GeneratorUrl(c).starts_with("https://"));
  c.alerts.external_url = "https://agents.example/n1/";
  CHECK(AlertComponent::GeneratorUrl(c) == "https://agents.example/n1/status");
}

}  // namespace
}  // namespace cachewarden
