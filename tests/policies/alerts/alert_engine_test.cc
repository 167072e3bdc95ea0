#include "policies/alerts/alert_engine.h"

#include <catch2/catch.hpp>
#include <map>

#include "tests/support/snapshots.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

using testing::VolumeAt;

AlertsConfig DiskConfig(Duration for_duration, Duration keep) {
  AlertsConfig c = DefaultAlertsConfig();
  RuleConfig& r = c.rules["CacheDiskAlmostFull"];
  r.for_duration = for_duration;
  r.keep_firing_for = keep;
  return c;
}

AlertState StateOf(const AlertEngine& e, const std::string& key) {
  auto it = e.alerts().find(key);
  return it == e.alerts().end() ? AlertState::kInactive : it->second.state;
}

const std::string kCritical = "CacheDiskAlmostFull|critical";
const std::string kWarning = "CacheDiskAlmostFull|warning";

TEST_CASE("an alert is pending until its condition has held for `for`, then fires", "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(minutes(2), seconds(0)));
  auto changes = engine.Evaluate(VolumeAt(96, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kPending);
  CHECK(StateOf(engine, kWarning) == AlertState::kPending);
  CHECK(changes.size() == 2);
  clock.Advance(seconds(119));
  CHECK(engine.Evaluate(VolumeAt(96, clock), clock.Now()).empty());
  CHECK(StateOf(engine, kCritical) == AlertState::kPending);
  clock.Advance(seconds(1));
  changes = engine.Evaluate(VolumeAt(96, clock), clock.Now());
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].from == AlertState::kPending);
  CHECK(changes[0].alert.state == AlertState::kFiring);
  const Alert& a = engine.alerts().at(kCritical);
  CHECK(a.firing_since == clock.Now());
  CHECK(a.value == Approx(96));
  CHECK(a.summary.find("/tmp/earthly") != std::string::npos);
  CHECK(a.summary.find("96.0%") != std::string::npos);
}

TEST_CASE("a pending alert whose condition stops goes back to inactive without firing",
          "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(minutes(2), seconds(0)));
  engine.Evaluate(VolumeAt(96, clock), clock.Now());
  clock.Advance(minutes(1));
  auto changes = engine.Evaluate(VolumeAt(50, clock), clock.Now());
  CHECK(changes.size() == 2);
  CHECK(engine.alerts().empty());
  // The `for` clock restarts.
  clock.Advance(minutes(1));
  engine.Evaluate(VolumeAt(96, clock), clock.Now());
  clock.Advance(minutes(1));
  engine.Evaluate(VolumeAt(96, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kPending);
}

TEST_CASE("a value hovering at the threshold does not flap", "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(seconds(0), seconds(0)));
  engine.Evaluate(VolumeAt(95.5, clock), clock.Now());
  REQUIRE(StateOf(engine, kCritical) == AlertState::kFiring);
  int changes = 0;
  for (int i = 0; i < 20; ++i) {
    clock.Advance(seconds(15));
    // 94.6% and 95.4%: across the 95% threshold, inside the 2-point margin.
    changes += static_cast<int>(
        engine.Evaluate(VolumeAt(i % 2 == 0 ? 94.6 : 95.4, clock), clock.Now()).size());
  }
  CHECK(changes == 0);
  CHECK(StateOf(engine, kCritical) == AlertState::kFiring);
  // Below the margin it resolves.
  clock.Advance(seconds(15));
  engine.Evaluate(VolumeAt(92.9, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kResolved);
  CHECK(StateOf(engine, kWarning) == AlertState::kFiring);
}

TEST_CASE("a pending alert needs the threshold itself, not the margin, to keep pending",
          "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(minutes(2), seconds(0)));
  engine.Evaluate(VolumeAt(95.5, clock), clock.Now());
  REQUIRE(StateOf(engine, kCritical) == AlertState::kPending);
  clock.Advance(seconds(15));
  // 94.6%: inside the 2-point margin, but not above 95%.
  engine.Evaluate(VolumeAt(94.6, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kInactive);
  // Back above: pending again, from now; it fires 2 minutes later, not earlier.
  clock.Advance(seconds(15));
  engine.Evaluate(VolumeAt(95.5, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kPending);
  clock.Advance(seconds(105));
  engine.Evaluate(VolumeAt(95.5, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kPending);
  clock.Advance(seconds(15));
  engine.Evaluate(VolumeAt(95.5, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kFiring);
}

TEST_CASE("resolved alerts are kept for the retention a reload sets", "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(seconds(0), seconds(0)), minutes(15));
  engine.Evaluate(VolumeAt(97, clock), clock.Now());
  clock.Advance(seconds(15));
  engine.Evaluate(VolumeAt(10, clock), clock.Now());
  REQUIRE(StateOf(engine, kCritical) == AlertState::kResolved);
  engine.Reconfigure(DiskConfig(seconds(0), seconds(0)), minutes(30));
  clock.Advance(minutes(20));
  engine.Evaluate(VolumeAt(10, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kResolved);
  clock.Advance(minutes(10));
  engine.Evaluate(VolumeAt(10, clock), clock.Now());
  CHECK(engine.alerts().empty());
}

TEST_CASE("a firing alert stays firing for keep_firing_for after its condition clears",
          "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(seconds(0), minutes(5)));
  engine.Evaluate(VolumeAt(97, clock), clock.Now());
  const SystemTime fired = clock.Now();
  clock.Advance(minutes(1));
  engine.Evaluate(VolumeAt(10, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kFiring);
  clock.Advance(minutes(3));
  engine.Evaluate(VolumeAt(10, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kFiring);
  clock.Advance(minutes(1));  // 5 minutes since it last held
  auto changes = engine.Evaluate(VolumeAt(10, clock), clock.Now());
  CHECK(changes.size() == 2);
  const Alert& a = engine.alerts().at(kCritical);
  CHECK(a.state == AlertState::kResolved);
  CHECK(a.resolved_at == clock.Now());
  CHECK(a.firing_since == fired);
}

TEST_CASE("a resolved alert fires again when its condition returns", "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(minutes(1), seconds(0)));
  engine.Evaluate(VolumeAt(97, clock), clock.Now());
  clock.Advance(minutes(1));
  engine.Evaluate(VolumeAt(97, clock), clock.Now());
  REQUIRE(StateOf(engine, kCritical) == AlertState::kFiring);
  clock.Advance(minutes(1));
  engine.Evaluate(VolumeAt(20, clock), clock.Now());
  REQUIRE(StateOf(engine, kCritical) == AlertState::kResolved);
  clock.Advance(minutes(1));
  auto changes = engine.Evaluate(VolumeAt(97, clock), clock.Now());
  REQUIRE_FALSE(changes.empty());
  CHECK(changes[0].from == AlertState::kResolved);
  CHECK(StateOf(engine, kCritical) == AlertState::kPending);
  clock.Advance(minutes(1));
  engine.Evaluate(VolumeAt(97, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kFiring);
  CHECK(engine.alerts().at(kCritical).firing_since == clock.Now());
}

TEST_CASE("resolved alerts are forgotten after the retention", "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(seconds(0), seconds(0)), minutes(15));
  engine.Evaluate(VolumeAt(97, clock), clock.Now());
  clock.Advance(seconds(15));
  engine.Evaluate(VolumeAt(10, clock), clock.Now());
  clock.Advance(minutes(14));
  engine.Evaluate(VolumeAt(10, clock), clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kResolved);
  clock.Advance(minutes(1));
  engine.Evaluate(VolumeAt(10, clock), clock.Now());
  CHECK(engine.alerts().empty());
}

TEST_CASE("a rule whose input is unknown keeps its alerts as they are", "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DiskConfig(seconds(0), seconds(0)));
  engine.Evaluate(VolumeAt(97, clock), clock.Now());
  clock.Advance(minutes(10));
  engine.Evaluate(Snapshot{}, clock.Now());
  CHECK(StateOf(engine, kCritical) == AlertState::kFiring);
}

TEST_CASE("disabling a rule resolves its firing alerts", "[alerts]") {
  FakeClock clock;
  AlertsConfig config = DiskConfig(seconds(0), minutes(5));
  AlertEngine engine(config);
  engine.Evaluate(VolumeAt(97, clock), clock.Now());
  config.rules["CacheDiskAlmostFull"].enabled = false;
  engine.Reconfigure(config);
  clock.Advance(seconds(15));
  auto changes = engine.Evaluate(VolumeAt(97, clock), clock.Now());
  CHECK(changes.size() == 2);
  CHECK(StateOf(engine, kCritical) == AlertState::kResolved);
}

TEST_CASE("the engine's /metrics say, per rule and severity, which alerts fire or are pending",
          "[alerts]") {
  FakeClock clock;
  AlertsConfig config = DiskConfig(seconds(0), seconds(0));
  config.rules["CacheInodesAlmostFull"].for_duration = minutes(2);
  AlertEngine engine(config);
  Snapshot s = VolumeAt(97, clock);
  engine.Evaluate(s, clock.Now());
  std::map<std::string, double> firing, pending;
  MetricWriter w;
  engine.ExportMetrics(w);
  for (const auto& family : w.Take()) {
    for (const auto& m : family.metric) {
      std::string key;
      for (const auto& l : m.label) key += (key.empty() ? "" : ",") + l.value;
      if (family.name == "cachewarden_alert_firing") firing[key] = m.gauge.value;
      if (family.name == "cachewarden_alert_pending") pending[key] = m.gauge.value;
    }
  }
  CHECK(firing.at("CacheDiskAlmostFull,critical") == 1);
  CHECK(firing.at("CacheDiskAlmostFull,warning") == 1);
  CHECK(pending.at("CacheDiskAlmostFull,critical") == 0);
  CHECK(firing.at("CacheNotOnVolume,critical") == 0);
  CHECK(firing.size() == pending.size());
  // VolumeAt's inodes are 10% used: nothing pending there.
  CHECK(pending.at("CacheInodesAlmostFull,warning") == 0);
  config.rules["CacheProbeFailing"].enabled = false;
  engine.Reconfigure(config);
  engine.ExportMetrics(w);
  for (const auto& family : w.Take()) {
    for (const auto& m : family.metric) CHECK(m.label.at(0).value != "CacheProbeFailing");
  }
}

}  // namespace
}  // namespace cachewarden
