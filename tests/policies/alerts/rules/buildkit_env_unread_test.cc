#include "policies/alerts/rules/buildkit_env_unread.h"

#include <catch2/catch.hpp>

#include "policies/alerts/alert_config.h"
#include "probes/buildkitd.h"

namespace cachewarden {
namespace {

TEST_CASE("a lookalike of the entrypoint's variables warns with its did-you-mean, never its value",
          "[alerts][buildkitd]") {
  const SystemTime now = FakeClock().Now();
  const RuleConfig c = DefaultAlertsConfig().Rule("BuildkitEnvUnread");
  auto d = std::make_shared<BuildkitdData>();
  BuildkitdProcess p;
  p.environ_readable = true;
  p.environment.shown = {{"CACHE_SIZE_PCT", "20"}};
  p.environment.hints = {{"BUILDKIT_CACHE_MAX_SIZE_MB", "CACHE_SIZE_MB"}};
  d->processes = {p, p};  // two processes with the same hint: named once
  Snapshot s;
  s.Put<BuildkitdData>(d, now);
  RuleOutcome out;
  DecideEnvUnread(*ExtractEnvUnread(s, now), c, &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].summary ==
        "buildkitd's environment sets 1 variable(s) nothing reads: BUILDKIT_CACHE_MAX_SIZE_MB (did "
        "you mean CACHE_SIZE_MB?)");
  d->processes[0].environment.hints.clear();
  d->processes[1].environment.hints.clear();
  out = {};
  DecideEnvUnread(*ExtractEnvUnread(s, now), c, &out);
  CHECK_FALSE(out.candidates[0].fires);
  CHECK_THAT(out.ok_summary, Catch::Contains("no lookalike"));
}

}  // namespace
}  // namespace cachewarden
