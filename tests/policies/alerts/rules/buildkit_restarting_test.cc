#include "policies/alerts/rules/buildkit_restarting.h"

#include <catch2/catch.hpp>

#include "policies/alerts/alert_config.h"
#include "probes/buildkitd.h"
#include "probes/logs.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;

const RuleConfig& Config() {
  static const RuleConfig c = DefaultAlertsConfig().Rule("BuildkitRestarting");
  return c;
}

TEST_CASE("buildkitd restarting threshold times within the window is a crash loop",
          "[alerts][buildkitd]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  auto d = std::make_shared<BuildkitdData>();
  d->processes.emplace_back();
  d->restart_window = minutes(15);
  d->restart_threshold = 3;
  d->restarts_in_window = 3;
  d->restarts = 5;
  Snapshot s;
  s.Put<BuildkitdData>(d, now);
  RuleOutcome out;
  DecideRestarting(*ExtractRestarting(s, now), Config(), &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].labels == MetricLabels{{"source", "process"}});
  CHECK_THAT(out.candidates[0].summary, Catch::Contains("3 time(s) within 15m"));
  auto two = std::make_shared<BuildkitdData>(*d);
  two->restarts_in_window = 2;
  s.Put<BuildkitdData>(two, now);
  out = {};
  DecideRestarting(*ExtractRestarting(s, now), Config(), &out);
  CHECK_FALSE(out.candidates[0].fires);
}

TEST_CASE("without a visible buildkitd the restarts come from its log", "[alerts][buildkitd]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  auto l = std::make_shared<LogsData>();
  l->files.push_back({"/var/log/buildkitd.log", "configured", "", {}, ""});
  l->restarts = 4;
  l->restart_times = {now - minutes(40), now - minutes(10), now - minutes(5), now - minutes(1)};
  Snapshot s;
  s.Put<LogsData>(l, now);
  auto none = std::make_shared<BuildkitdData>();  // the probe is on and sees no buildkitd
  none->restart_window = minutes(15);
  none->restart_threshold = 3;
  s.Put<BuildkitdData>(none, now);
  RuleOutcome out;
  auto in = ExtractRestarting(s, now);
  REQUIRE(in);
  CHECK(in->source == "logs");
  CHECK(in->restarts_in_window == 3);  // the probe's window, 15m
  DecideRestarting(*in, Config(), &out);
  CHECK(out.candidates.at(0).fires);
  CHECK(out.candidates[0].labels == MetricLabels{{"source", "logs"}});
  CHECK_FALSE(ExtractRestarting(Snapshot{}, now));
}

}  // namespace
}  // namespace cachewarden
