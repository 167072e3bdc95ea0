#include "policies/alerts/rules/buildkit_gc_failing.h"

#include <catch2/catch.hpp>

#include "policies/alerts/assessment.h"
#include "probes/buildkit.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const SystemTime kNow = SystemTime(seconds(1'700'000'000));

// Earthly's fork's analytics: a healthy GC (10 runs, none failed, the latest took 10 s).
BuildkitGcAnalytics Healthy() {
  BuildkitGcAnalytics a;
  a.recent_runs = 10;
  a.all_time_runs = 50;
  a.last_start = kNow - minutes(30);
  a.last_end = *a.last_start + seconds(10);
  a.last_success = true;
  return a;
}

Snapshot With(std::optional<BuildkitGcAnalytics> analytics) {
  Snapshot s;
  auto bk = std::make_shared<BuildkitData>();
  bk->address = "unix:///run/buildkit/buildkitd.sock";
  BuildkitWorker w;
  w.id = "w0";
  w.gc_analytics = analytics;
  bk->workers.push_back(w);
  s.Put<BuildkitData>(bk, kNow);
  return s;
}

Candidate Judge(const BuildkitGcAnalytics& a, std::string* ok_summary = nullptr) {
  const auto in = ExtractGcFailing(With(a), kNow);
  REQUIRE(in.has_value());
  RuleOutcome out;
  DecideGcFailing(*in, DefaultAlertsConfig().Rule("BuildkitGCFailing"), &out);
  REQUIRE(out.candidates.size() == 1);
  if (ok_summary != nullptr) *ok_summary = out.ok_summary;
  return out.candidates[0];
}

TEST_CASE("BuildkitGCFailing fires on a failed recent run or a run longer than 5 minutes",
          "[policies][buildkit]") {
  std::string ok;
  Candidate c = Judge(Healthy(), &ok);
  CHECK_FALSE(c.fires);
  CHECK(c.labels == MetricLabels{{"worker", "w0"}});
  CHECK(ok ==
        "BuildKit's GC at unix:///run/buildkit/buildkitd.sock: 0 of its last 10 runs "
        "failed, the latest took 10s");

  BuildkitGcAnalytics failed = Healthy();
  failed.recent_failures = 2;
  c = Judge(failed);
  CHECK(c.fires);
  CHECK_THAT(c.summary, Catch::EndsWith("is failing: 2 of its last 10 runs failed"));

  BuildkitGcAnalytics running = Healthy();
  running.current_start = kNow - minutes(6);
  c = Judge(running);
  CHECK(c.fires);
  CHECK_THAT(c.summary, Catch::EndsWith("a run has been going for 6m"));
  running.current_start = kNow - minutes(4);  // under 5 minutes: still fine
  CHECK_FALSE(Judge(running).fires);

  BuildkitGcAnalytics slow = Healthy();
  slow.last_end = *slow.last_start + minutes(7);
  c = Judge(slow);
  CHECK(c.fires);
  CHECK_THAT(c.summary, Catch::EndsWith("its latest run took 7m"));
}

TEST_CASE("BuildkitGCFailing says nothing for a BuildKit without GC analytics",
          "[policies][buildkit]") {
  CHECK_FALSE(ExtractGcFailing(With(std::nullopt), kNow).has_value());
  CHECK_FALSE(ExtractGcFailing(Snapshot{}, kNow).has_value());
}

}  // namespace
}  // namespace cachewarden
