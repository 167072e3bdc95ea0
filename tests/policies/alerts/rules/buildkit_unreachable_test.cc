#include "policies/alerts/rules/buildkit_unreachable.h"

#include <catch2/catch.hpp>

#include "policies/alerts/assessment.h"
#include "probes/buildkit.h"

namespace cachewarden {
namespace {

const SystemTime kNow = SystemTime(std::chrono::seconds(1'700'000'000));

RuleOutcome Evaluate(const Snapshot& s) {
  RuleOutcome out;
  const auto in = ExtractUnreachable(s, kNow);
  REQUIRE(in.has_value());
  DecideUnreachable(*in, DefaultAlertsConfig().Rule("BuildkitUnreachable"), &out);
  return out;
}

BuildkitUnreachable Down(const std::string& address) {
  return {address, Status::Error(StatusCode::kMissing, "connect " + address + ": no such file")};
}

TEST_CASE("BuildkitUnreachable fires for every address a failed run could not reach",
          "[policies][buildkit]") {
  Snapshot s;
  ProbeResult r;
  r.probe = "buildkit";
  r.status = Status::Error(StatusCode::kMissing, "no BuildKit answered");
  auto down = std::make_shared<BuildkitDownData>();
  down->unreachable = {Down("unix:///a.sock"), Down("unix:///b.sock")};
  r.failure = down;
  s.Set(r);
  const RuleOutcome out = Evaluate(s);
  REQUIRE(out.candidates.size() == 2);
  for (const auto& c : out.candidates) {
    CHECK(c.fires);
    CHECK_THAT(c.summary, Catch::Contains("does not answer (missing)"));
    CHECK_THAT(c.description, Catch::Contains("no such file"));
  }
  CHECK(out.candidates[1].labels == MetricLabels{{"address", "unix:///b.sock"}});
  CHECK(out.ok_summary.empty());
}

TEST_CASE("BuildkitUnreachable fires for an address passed over but not for the one that answered",
          "[policies][buildkit]") {
  Snapshot s;
  auto bk = std::make_shared<BuildkitData>();
  bk->address = "docker-unix:///var/run/docker.sock";
  bk->unreachable = {Down("unix:///run/buildkit/buildkitd.sock")};
  s.Put<BuildkitData>(bk, kNow);
  RuleOutcome out = Evaluate(s);
  REQUIRE(out.candidates.size() == 2);
  CHECK(out.candidates[0].fires);
  CHECK_FALSE(out.candidates[1].fires);
  CHECK(out.candidates[1].labels ==
        MetricLabels{{"address", "docker-unix:///var/run/docker.sock"}});

  bk = std::make_shared<BuildkitData>();
  bk->address = "unix:///run/buildkit/buildkitd.sock";
  s.Put<BuildkitData>(bk, kNow);
  out = Evaluate(s);
  REQUIRE(out.candidates.size() == 1);
  CHECK_FALSE(out.candidates[0].fires);
  CHECK(out.ok_summary == "BuildKit at unix:///run/buildkit/buildkitd.sock answers");
}

TEST_CASE("BuildkitUnreachable knows nothing before the probe ran or when its run was cut off",
          "[policies][buildkit]") {
  Snapshot s;
  CHECK_FALSE(ExtractUnreachable(s, kNow).has_value());
  ProbeResult r;
  r.probe = "buildkit";
  r.status = Status::Error(StatusCode::kTimeout, "did not finish within 30s");
  s.Set(r);  // no failure data: the probe's own timeout
  CHECK_FALSE(ExtractUnreachable(s, kNow).has_value());
}

}  // namespace
}  // namespace cachewarden
