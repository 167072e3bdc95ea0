#include "policies/gc/gc_describe.h"

#include <catch2/catch.hpp>

namespace cachewarden {
namespace {

TEST_CASE("the default dind policy is described as what it deletes and when", "[gc][describe]") {
  CHECK(DescribeGcPolicy(DefaultDindPolicy()) ==
        "policy dind deletes dind/* (not cache_*) idle over 1d, or while the volume is over 85% "
        "used, oldest first until 80%; never an entry idle under 6h, one held open or one with a "
        "mount inside; checked every 1m");
}

TEST_CASE("a prune policy is described by what BuildKit keeps and when it runs",
          "[gc][describe][prune]") {
  CHECK(DescribeGcPolicy(DefaultBuildkitPolicy()) ==
        "policy buildkit prunes BuildKit's records not in use and unused for 1h while the volume "
        "is over 85% used, as BuildKit decides; only when BuildKit answers at "
        "probes.buildkit.address; checked every 1m");
  GcPolicy p = DefaultBuildkitPolicy();
  p.prune.filters = {"type==exec.cachemount", "id==x"};
  p.prune.all = true;
  p.prune.keep_bytes = 1 << 30;
  p.prune.keep_duration = Duration(0);
  CHECK(DescribeGcPolicy(p) ==
        "policy buildkit prunes BuildKit's records not in use matching type==exec.cachemount or "
        "id==x, shared and internal ones too (keep_bytes 1.0 GiB) while the volume is over 85% "
        "used, as BuildKit decides; only when BuildKit answers at probes.buildkit.address; "
        "checked every 1m");
}

TEST_CASE("a described policy names its command, caps, free-space trigger and dry run",
          "[gc][describe]") {
  GcPolicy p;
  p.name = "prune";
  p.action = GcAction::kCommand;
  p.command = {"buildctl", "prune"};
  p.triggers.free_below = SizeSpec::Bytes(10ull << 30);
  p.min_age = Duration(0);
  p.max_entries = 5;
  p.dry_run = true;
  CHECK(DescribeGcPolicy(p) ==
        "policy prune runs `buildctl prune` while under 10GiB is free, run until 10GiB is; "
        "at most 5 entries a run; checked every 1m (dry run: deletes nothing, logs what it "
        "would)");
}

TEST_CASE("gc disabled or without policies says nothing is deleted", "[gc][describe]") {
  GcConfig off;
  off.enabled = false;
  REQUIRE(DescribeGc(off).size() == 1);
  CHECK(DescribeGc(off)[0] == "gc: disabled (gc.enabled is false): nothing is deleted");
  GcConfig none;
  CHECK(DescribeGc(none) == std::vector<std::string>{"gc: no policies: nothing is deleted"});
  GcConfig one;
  one.policies.push_back(DefaultDindPolicy());
  auto j = GcPolicyStatus(one);
  CHECK(j["enabled"] == true);
  CHECK(j["policies"][0]["name"] == "dind");
  CHECK(j["policies"][0]["description"] == DescribeGcPolicy(DefaultDindPolicy()));
}

}  // namespace
}  // namespace cachewarden
