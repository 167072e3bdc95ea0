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
  CHECK_THAT(f.summary, Catch::Contains("2 leftover dind entries") && Catch::Contains("3.0 GiB"));
  config.rules["DindLeftoversLarge"].params["max_size"] = 1 << 30;
  f = rule(config);
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.summary, Catch::Contains("3.0 GiB") && Catch::Contains("2 entries"));
  CHECK_THAT(f.remedy, Catch::Contains("untouched for 1h") && Catch::Contains("earthly prune"));
}

}  // namespace
}  // namespace cachewarden
