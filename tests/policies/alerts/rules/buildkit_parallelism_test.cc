#include "policies/alerts/rules/buildkit_parallelism.h"

#include <catch2/catch.hpp>

#include "policies/alerts/alert_engine.h"
#include "policies/alerts/assessment.h"
#include "probes/buildkit.h"

namespace cachewarden {
namespace {

const SystemTime kNow = SystemTime(std::chrono::seconds(1'700'000'000));

Snapshot With(std::optional<BuildkitParallelism> p) {
  Snapshot s;
  auto bk = std::make_shared<BuildkitData>();
  bk->address = "tcp://127.0.0.1:8372";
  BuildkitWorker w;
  w.id = "w0";
  w.parallelism = p;
  bk->workers.push_back(w);
  s.Put<BuildkitData>(bk, kNow);
  return s;
}

RuleOutcome Judge(std::int64_t waiting) {
  const auto in = ExtractParallelism(With(BuildkitParallelism{20, 20, waiting}), kNow);
  REQUIRE(in.has_value());
  RuleOutcome out;
  DecideParallelism(*in, DefaultAlertsConfig().Rule("BuildkitParallelismSaturated"), &out);
  REQUIRE(out.candidates.size() == 1);
  return out;
}

TEST_CASE("BuildkitParallelismSaturated fires when more than 5 build steps wait",
          "[policies][buildkit]") {
  RuleOutcome out = Judge(5);
  CHECK_FALSE(out.candidates[0].fires);
  CHECK(out.ok_summary == "BuildKit at tcp://127.0.0.1:8372: 20 of 20 build slots busy, 5 waiting");
  out = Judge(6);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].value == 6);
  CHECK(out.candidates[0].labels == MetricLabels{{"worker", "w0"}});
  CHECK(out.candidates[0].summary ==
        "6 build steps wait for a slot at BuildKit tcp://127.0.0.1:8372 (20 of 20 running)");
  CHECK_THAT(out.candidates[0].description, Catch::Contains("BUILDKIT_MAX_PARALLELISM"));
}

TEST_CASE("BuildkitParallelismSaturated fires after 10 minutes of waiting builds",
          "[policies][buildkit]") {
  AlertEngine engine(DefaultAlertsConfig());
  const Snapshot saturated = With(BuildkitParallelism{20, 20, 9});
  auto state = [&] {
    for (const auto& [key, a] : engine.alerts()) {
      if (a.name == "BuildkitParallelismSaturated") return a.state;
    }
    return AlertState::kInactive;
  };
  engine.Evaluate(saturated, kNow);
  CHECK(state() == AlertState::kPending);
  engine.Evaluate(saturated, kNow + std::chrono::minutes(9));
  CHECK(state() == AlertState::kPending);
  engine.Evaluate(saturated, kNow + std::chrono::minutes(10));
  CHECK(state() == AlertState::kFiring);
  // A BuildKit that is not Earthly's fork sends no parallelism: nothing to judge.
  CHECK_FALSE(ExtractParallelism(With(std::nullopt), kNow).has_value());
}

}  // namespace
}  // namespace cachewarden
