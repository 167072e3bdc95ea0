#include "policies/alerts/rules/debug_port_open.h"

#include <catch2/catch.hpp>

#include "policies/alerts/alert_config.h"
#include "probes/exposure.h"

namespace cachewarden {
namespace {

TEST_CASE("a debug port listening beside buildkitd warns and says how to turn it off",
          "[alerts][exposure]") {
  FakeClock clock;
  auto x = std::make_shared<ExposureData>();
  x->pid = 42;
  x->debug_port = PortExposure{6060, true, true, {"0.0.0.0"}};
  Snapshot s;
  s.Put<ExposureData>(x, clock.Now());
  RuleOutcome out;
  const RuleConfig c = DefaultAlertsConfig().Rule("BuildkitDebugPortOpen");
  DecideDebugPortOpen(*ExtractDebugPort(s, clock.Now()), c, &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].severity == Severity::kWarning);
  CHECK(out.candidates[0].labels == MetricLabels{{"port", "6060"}});
  CHECK_THAT(out.candidates[0].summary, Catch::Contains("all interfaces"));
  CHECK_THAT(out.candidates[0].description, Catch::Contains("BUILDKIT_PPROF_ENABLED"));

  x->debug_port->listening = false;
  out = {};
  DecideDebugPortOpen(*ExtractDebugPort(s, clock.Now()), c, &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  CHECK(out.ok_summary == "No debug port 6060 open beside buildkitd (pid 42)");

  // Without buildkitd's process the port is unknown: the rule says nothing.
  x->pid = 0;
  CHECK_FALSE(ExtractDebugPort(s, clock.Now()));
}

}  // namespace
}  // namespace cachewarden
