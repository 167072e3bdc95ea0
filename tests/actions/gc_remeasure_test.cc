// The daemon's GC keeps its entry measures from run to run (GcPolicy::remeasure_after): what it
// reuses, when it walks again, and that it never deletes on an old measure.

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "actions/gc_run.h"
#include "tests/support/gc_cache.h"
#include "tests/support/gc_tree.h"

namespace cachewarden {
namespace {

using namespace cachewarden::testing;

constexpr int kDay = 86400;

const GcPlanItem& ItemOf(const GcRunResult& r, const std::string& name) {
  for (const GcPlanItem& i : r.plan.items) {
    if (i.entry.name == name) return i;
  }
  FAIL("no plan item for " << name);
  return r.plan.items.front();
}

TEST_CASE("gc walks an entry chosen on an earlier run's measure again and keeps it if now young",
          "[gc][run][remeasure]") {
  Cache c;
  c.Entry("build-old", 2 * kDay);
  c.options.measures = std::make_shared<GcMeasureCache>();
  GcPolicy p = DefaultDindPolicy();
  p.skip_open = false;
  c.options.dry_run = true;
  GcRunResult first = RunGcPolicy(p, nullptr, c.options);
  REQUIRE(ItemOf(first, "build-old").decision == GcDecision::kDelete);
  CHECK_FALSE(ItemOf(first, "build-old").entry.reused);
  // A build writes into the entry again: its kept measure still says two days idle.
  Touch(c.root + "/dind/build-old/sub/new", "fresh");
  c.options.dry_run = false;
  GcRunResult r = RunGcPolicy(p, nullptr, c.options);
  const GcPlanItem& item = ItemOf(r, "build-old");
  CHECK_FALSE(item.entry.reused);  // walked again before anything was decided
  CHECK(item.decision != GcDecision::kDelete);
  CHECK(item.age < std::chrono::hours(1));
  CHECK(r.deleted_entries == 0);
  CHECK(ReadFile(c.root + "/dind/build-old/sub/new") == "fresh");
  // An entry whose newest file is removed or backdated looks older only once its measure is
  // taken again (remeasure_after, or a new config): until then GC keeps it, the safe side.
  AgeTree(c.root + "/dind/build-old", 2 * kDay);
  GcRunResult kept = RunGcPolicy(p, nullptr, c.options);
  CHECK(ItemOf(kept, "build-old").entry.reused);
  CHECK(kept.deleted_entries == 0);
  c.options.measures = std::make_shared<GcMeasureCache>();
  GcRunResult last = RunGcPolicy(p, nullptr, c.options);
  CHECK(last.deleted_entries == 1);
  CHECK_FALSE(Exists(c.root + "/dind/build-old"));
}

TEST_CASE("gc reuses an entry's measure for remeasure_after and then walks it again",
          "[gc][run][remeasure]") {
  Cache c;
  c.Entry("build", 3600);
  FakeClock clock(SystemTime::clock::now());
  c.options.clock = &clock;
  c.options.measures = std::make_shared<GcMeasureCache>();
  c.options.dry_run = true;
  GcPolicy p = Always();
  p.min_age = std::chrono::hours(2);  // nothing is chosen: every run only measures
  const std::uint64_t before = ItemOf(RunGcPolicy(p, nullptr, c.options), "build").entry.bytes;
  Touch(c.root + "/dind/build/more", std::string(200000, 'y'));

  clock.Advance(p.remeasure_after - std::chrono::seconds(1));
  GcRunResult reused = RunGcPolicy(p, nullptr, c.options);
  CHECK(ItemOf(reused, "build").entry.reused);
  CHECK(ItemOf(reused, "build").entry.bytes == before);
  CHECK(reused.plan.ToJson()["entries"][0]["measured_earlier"] == true);

  SECTION("past remeasure_after") { clock.Advance(std::chrono::seconds(1)); }
  SECTION("with remeasure_after 0") { p.remeasure_after = Duration(0); }
  SECTION("without kept measures, as `cachewarden gc` runs") { c.options.measures = nullptr; }
  SECTION("with a kept measure of the same name but another directory") {
    // Made beside it first, so that it cannot get the old inode number.
    MakeDirs(c.root + "/dind/build.new");
    Touch(c.root + "/dind/build.new/big", std::string(400000, 'z'));
    std::filesystem::remove_all(c.root + "/dind/build");
    std::filesystem::rename(c.root + "/dind/build.new", c.root + "/dind/build");
  }
  GcRunResult walked = RunGcPolicy(p, nullptr, c.options);
  CHECK_FALSE(ItemOf(walked, "build").entry.reused);
  CHECK(ItemOf(walked, "build").entry.bytes > before);
  CHECK_FALSE(walked.plan.ToJson()["entries"][0].contains("measured_earlier"));
}

}  // namespace
}  // namespace cachewarden
