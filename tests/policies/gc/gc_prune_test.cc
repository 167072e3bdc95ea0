#include "policies/gc/gc_prune.h"

#include <catch2/catch.hpp>
#include <map>

namespace cachewarden {
namespace {

using std::chrono::hours;

const SystemTime kNow = SystemTime(std::chrono::seconds(1'800'000'000));

BuildkitRecord Record(std::string id, std::string type, std::int64_t size,
                      std::optional<Duration> unused_for, bool in_use = false,
                      bool shared = false) {
  BuildkitRecord r;
  r.id = std::move(id);
  r.type = std::move(type);
  r.size = size;
  r.in_use = in_use;
  r.shared = shared;
  if (unused_for) r.last_used = kNow - *unused_for;
  return r;
}

GcPolicy Prune() {
  GcPolicy p;
  p.name = "bk";
  p.path = "";
  p.action = GcAction::kPrune;
  p.triggers.always = true;
  return p;
}

// The plan as record id -> (decision, skip reason).
std::map<std::string, std::pair<GcDecision, SkipReason>> Decisions(const GcPlan& plan) {
  std::map<std::string, std::pair<GcDecision, SkipReason>> out;
  for (const auto& i : plan.items) out[i.entry.name] = {i.decision, i.skip};
  return out;
}

GcPlan Plan(const GcPolicy& p, const std::vector<BuildkitRecord>& records, bool reserved = false,
            const VolumeData* volume = nullptr) {
  GcPlan plan = PlanGc(p, {}, volume, kNow);
  REQUIRE(plan.triggered);
  PlanPrune(p, records, reserved, volume, kNow, &plan);
  return plan;
}

const std::vector<BuildkitRecord> kRecords = {
    Record("old", "regular", 1000, hours(48)),
    Record("mid", "exec.cachemount", 500, hours(5)),
    Record("young", "regular", 200, std::chrono::minutes(10)),
    Record("never", "", 50, std::nullopt),
    Record("busy", "regular", 4000, hours(100), /*in_use=*/true),
    Record("shared", "regular", 300, hours(100), false, /*shared=*/true),
    Record("front", "frontend", 70, hours(100)),
    Record("ctx", "source.local", 30, hours(30)),
};

TEST_CASE("prune dry run: not in use, past keep_duration, not shared without all", "[gc][prune]") {
  GcPolicy p = Prune();
  p.prune.keep_duration = hours(1);
  GcPlan plan = Plan(p, kRecords);
  auto d = Decisions(plan);
  CHECK(d["old"].first == GcDecision::kDelete);
  CHECK(d["mid"].first == GcDecision::kDelete);
  CHECK(d["never"].first == GcDecision::kDelete);  // never used: past any keep_duration
  CHECK(d["ctx"].first == GcDecision::kDelete);
  CHECK(d["young"] == std::pair{GcDecision::kSkip, SkipReason::kYoung});
  CHECK(d["busy"].first == GcDecision::kKeep);
  CHECK(d["shared"] == std::pair{GcDecision::kSkip, SkipReason::kExcluded});
  CHECK(d["front"] == std::pair{GcDecision::kSkip, SkipReason::kExcluded});
  CHECK(plan.planned_entries == 4);
  CHECK(plan.planned_bytes == 1000 + 500 + 50 + 30);
  // The chosen come first, least recently used first (never used before any used one).
  REQUIRE(plan.items.size() == kRecords.size());
  CHECK(plan.items[0].entry.name == "never");
  CHECK(plan.items[1].entry.name == "old");
  CHECK(plan.items[2].entry.name == "ctx");

  p.prune.all = true;
  d = Decisions(Plan(p, kRecords));
  CHECK(d["shared"].first == GcDecision::kDelete);
  CHECK(d["front"].first == GcDecision::kDelete);
  CHECK(d["busy"].first == GcDecision::kKeep);  // in use: never, even with all
  CHECK(d["young"].first == GcDecision::kSkip);
}

TEST_CASE("prune dry run: filters pick by type and id, any filter may match", "[gc][prune]") {
  GcPolicy p = Prune();
  p.prune.filters = {"type==exec.cachemount"};
  auto d = Decisions(Plan(p, kRecords));
  CHECK(d["mid"].first == GcDecision::kDelete);
  CHECK(d["old"] == std::pair{GcDecision::kSkip, SkipReason::kExcluded});
  CHECK(d["young"] == std::pair{GcDecision::kSkip, SkipReason::kExcluded});

  p.prune.filters = {"id==old", "type==source.local"};
  d = Decisions(Plan(p, kRecords));
  CHECK(d["old"].first == GcDecision::kDelete);
  CHECK(d["ctx"].first == GcDecision::kDelete);
  CHECK(d["mid"].first == GcDecision::kSkip);

  // A record without a type is "regular", as BuildKit counts it; a comma is AND.
  p.prune.filters = {"type==regular,id!=old"};
  d = Decisions(Plan(p, kRecords));
  CHECK(d["never"].first == GcDecision::kDelete);
  CHECK(d["young"].first == GcDecision::kDelete);
  CHECK(d["old"].first == GcDecision::kSkip);
  CHECK(d["mid"].first == GcDecision::kSkip);

  p.prune.filters = {"id~=^(m|c)", "private,type==\"frontend\""};
  d = Decisions(Plan(p, kRecords));
  CHECK(d["mid"].first == GcDecision::kDelete);
  CHECK(d["ctx"].first == GcDecision::kDelete);
  CHECK(d["old"].first == GcDecision::kSkip);
  CHECK(d["front"].first == GcDecision::kSkip);  // matched, but frontend needs all
}

TEST_CASE("prune dry run: keep_bytes caps the cache, least recently used go first", "[gc][prune]") {
  GcPolicy p = Prune();
  // Total 6150 bytes; a cap of 5000 wants 1150 gone: "never" (50), then "old" (1000), then "ctx"
  // (30), then "mid" (500) brings it to 4570.
  p.prune.keep_bytes = 5000;
  GcPlan plan = Plan(p, kRecords);
  auto d = Decisions(plan);
  CHECK(d["never"].first == GcDecision::kDelete);
  CHECK(d["old"].first == GcDecision::kDelete);
  CHECK(d["ctx"].first == GcDecision::kDelete);
  CHECK(d["mid"].first == GcDecision::kDelete);
  CHECK(d["young"].first == GcDecision::kKeep);
  CHECK(plan.planned_bytes == 1580);

  p.prune.keep_bytes = 6000;  // 150 over: "never" and "old"
  plan = Plan(p, kRecords);
  d = Decisions(plan);
  CHECK(d["never"].first == GcDecision::kDelete);
  CHECK(d["old"].first == GcDecision::kDelete);
  CHECK(d["ctx"].first == GcDecision::kKeep);
  CHECK(plan.planned_bytes == 1050);

  // From BuildKit 0.17 on, keep_bytes alone is the reserved floor, not a cap: no byte bound.
  plan = Plan(p, kRecords, /*reserved=*/true);
  CHECK(plan.planned_entries == 5);
  // With max_used_space the cap, keep_bytes the floor: 6150 > 5000 wants 1150, but the floor of
  // 5100 stops after "never" and "old" (6150 - 1050 = 5100; "ctx" would go below it).
  p.prune.keep_bytes = 5100;
  p.prune.max_used_space = 5000;
  plan = Plan(p, kRecords, true);
  d = Decisions(plan);
  CHECK(d["never"].first == GcDecision::kDelete);
  CHECK(d["old"].first == GcDecision::kDelete);
  CHECK(d["ctx"].first == GcDecision::kKeep);
  CHECK(plan.planned_bytes == 1050);
}

TEST_CASE("prune dry run: min_free_space frees until the volume has that much", "[gc][prune]") {
  GcPolicy p = Prune();
  p.prune.min_free_space = 1000;
  VolumeData v;
  v.size_bytes = 100000;
  v.free_bytes = 400;
  v.avail_bytes = 400;
  GcPlan plan = Plan(p, kRecords, true, &v);
  auto d = Decisions(plan);
  CHECK(d["never"].first == GcDecision::kDelete);  // 450
  CHECK(d["old"].first == GcDecision::kDelete);    // 1450: enough
  CHECK(d["ctx"].first == GcDecision::kKeep);
}

TEST_CASE("prune until_below becomes the cap BuildKit is asked to keep to", "[gc][prune]") {
  GcPolicy p = Prune();
  p.triggers.always = false;
  p.triggers.used_above = SizeSpec::Percent(81);
  p.triggers.until_below = SizeSpec::Percent(80);
  VolumeData v;  // 81040 of 100000 used: 1040 to free to reach 80%
  v.size_bytes = 100000;
  v.free_bytes = v.avail_bytes = 18960;
  GcPlan plan = Plan(p, kRecords, false, &v);
  REQUIRE(plan.need_bytes == 1040);
  // kRecords hold 6150: BuildKit keeps 5110, so it frees the never-used record and the oldest.
  const std::int64_t cap = WatermarkCap(p.prune, 6150, plan.need_bytes);
  CHECK(cap == 5110);
  auto d = Decisions(plan);
  CHECK(d["never"].first == GcDecision::kDelete);
  CHECK(d["old"].first == GcDecision::kDelete);
  CHECK(d["ctx"].first == GcDecision::kKeep);  // 5100 left: the watermark is reached
  CHECK(plan.planned_bytes == 1050);

  // Sent as keepBytes where field 4 is a cap, as maxUsedSpace where it is reservedSpace (0.17).
  BuildkitPruneRequest old_server = PruneRequestOf(p.prune, cap, false);
  CHECK(old_server.keep_bytes == 5110);
  CHECK(old_server.max_used_space == 0);
  BuildkitPruneRequest v017 = PruneRequestOf(p.prune, cap, true);
  CHECK(v017.keep_bytes == 0);
  CHECK(v017.max_used_space == 5110);
  CHECK(Decisions(Plan(p, kRecords, true, &v))["ctx"].first == GcDecision::kKeep);

  // The policy's own byte setting wins; age triggers and a BuildKit holding less than the need
  // send none.
  GcPruneSettings own = p.prune;
  own.keep_bytes = 3000;
  CHECK(WatermarkCap(own, 6150, 1040) == 0);
  CHECK(WatermarkCap(p.prune, 6150, 0) == 0);
  CHECK(WatermarkCap(p.prune, 1000, 1040) == 0);
}

TEST_CASE("prune filter strings parse strictly", "[gc][prune]") {
  BuildkitFilter f;
  std::string error;
  REQUIRE(ParseBuildkitFilter("type==regular, id!=\"x\",shared", &f, &error));
  REQUIRE(f.size() == 3);
  CHECK(f[0].field == "type");
  CHECK(f[0].op == BuildkitFilterTerm::Op::kEquals);
  CHECK(f[0].value == "regular");
  CHECK(f[1].op == BuildkitFilterTerm::Op::kNotEquals);
  CHECK(f[1].value == "x");
  CHECK(f[2].op == BuildkitFilterTerm::Op::kPresent);
  CHECK_FALSE(ParseBuildkitFilter("until=24h", &f, &error));
  CHECK(error.find("unknown field") != std::string::npos);
  CHECK_FALSE(ParseBuildkitFilter("", &f, &error));
  CHECK(ReservedSpaceSemantics("v0.17.0"));
  CHECK(ReservedSpaceSemantics("0.21.1-rc"));
  CHECK_FALSE(ReservedSpaceSemantics("v0.16.9"));
  CHECK_FALSE(ReservedSpaceSemantics(""));
}

}  // namespace
}  // namespace cachewarden
