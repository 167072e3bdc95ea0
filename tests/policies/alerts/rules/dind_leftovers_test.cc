#include "policies/alerts/rules/dind_leftovers.h"

#include <catch2/catch.hpp>

#include "policies/alerts/assessment.h"
#include "probes/dind.h"

namespace cachewarden {
namespace {

const SystemTime kNow = SystemTime(std::chrono::seconds(1'700'000'000));

TEST_CASE("dind leftovers are reported with their size, a warning only once large",
          "[policies][dind]") {
  auto d = std::make_shared<DindData>();
  d->leftover_entries = 2;
  d->leftover_bytes = 3ULL << 30;
  d->leftover_age = std::chrono::hours(1);
  d->dirs = {"/c/dind"};
  d->entries = {
      {"/c/dind", "cache_x", true, 5ULL << 30, kNow - std::chrono::hours(90), true, false},
      {"/c/dind", "small", false, 1ULL << 30, kNow - std::chrono::hours(2), true, true},
      {"/c/dind", "fresh", false, 1ULL << 30, kNow, true, false},
      {"/c/dind", "big", false, 2ULL << 30, kNow - std::chrono::hours(50), true, true}};
  Snapshot s;
  s.Put<DindData>(d, kNow);
  auto rule = [&](const AlertsConfig& config) {
    for (const auto& f : Assess(s, config, kNow)) {
      if (f.rule == "DindLeftoversLarge") return f;
    }
    FAIL("no DindLeftoversLarge finding");
    return Finding{};
  };
  AlertsConfig config = DefaultAlertsConfig();
  Finding f = rule(config);
  CHECK(f.severity == Severity::kOk);
  CHECK_THAT(f.summary,
             Catch::EndsWith("2 leftover dind entries under /c/dind hold 3.0 GiB: big (2.0 GiB, "
                             "idle 2d2h), small (1.0 GiB, idle 2h) (limits: 10.0 GiB, "
                             "100 entries; `cachewarden gc` frees them)"));
  config.rules["DindLeftoversLarge"].params["max_size"] = 1 << 30;
  f = rule(config);
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.summary, Catch::Contains("hold 3.0 GiB: big (2.0 GiB, idle 2d2h), small"));
  CHECK_THAT(f.remedy, Catch::Contains("idle (nothing in it modified) for 1h or more") &&
                           Catch::Contains("`cachewarden gc`") && Catch::Contains("earthly prune"));
}

}  // namespace
}  // namespace cachewarden
