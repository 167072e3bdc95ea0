#include "policies/alerts/rules/buildkit_oom_killed.h"

#include <catch2/catch.hpp>

#include "policies/alerts/alert_config.h"
#include "probes/buildkitd.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;

Snapshot WithOomKill(SystemTime last, std::uint64_t kills, SystemTime now) {
  auto d = std::make_shared<BuildkitdData>();
  d->oom_kills = kills;
  d->last_oom_kill = last;
  BuildkitdProcess p;
  p.slot = "0";
  p.resident_bytes = 3ull << 30;
  p.memory.limit_bytes = 4ull << 30;
  p.memory.usage_bytes = 4ull << 30;
  d->processes.push_back(p);
  Snapshot s;
  s.Put<BuildkitdData>(d, now);
  return s;
}

TEST_CASE("an OOM kill in buildkitd's cgroup is critical within the window, with its memory",
          "[alerts][buildkitd]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  const RuleConfig c = DefaultAlertsConfig().Rule("BuildkitOOMKilled");
  RuleOutcome out;
  DecideOomKilled(*ExtractOomKilled(WithOomKill(now - minutes(2), 1, now), now), c, &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].severity == Severity::kCritical);
  CHECK_THAT(out.candidates[0].description, Catch::Contains("of its 4.0 GiB limit") &&
                                                Catch::Contains("BUILDKIT_MAX_PARALLELISM"));
  out = {};
  DecideOomKilled(*ExtractOomKilled(WithOomKill(now - minutes(16), 1, now), now), c, &out);
  CHECK_FALSE(out.candidates[0].fires);
  out = {};
  DecideOomKilled(*ExtractOomKilled(WithOomKill(SystemTime{}, 0, now), now), c, &out);
  CHECK_FALSE(out.candidates[0].fires);
  CHECK_THAT(out.ok_summary, Catch::StartsWith("No OOM kill") && Catch::Contains("limit"));
  CHECK_FALSE(ExtractOomKilled(Snapshot{}, now));
}

}  // namespace
}  // namespace cachewarden
