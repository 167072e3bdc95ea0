#include "policies/gc/gc_select.h"

#include <catch2/catch.hpp>

#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

using std::chrono::hours;
constexpr std::uint64_t kGiB = 1ULL << 30;

// 100 GiB volume; `used_gib` used, the rest available.
VolumeData Volume(std::uint64_t used_gib, std::uint64_t files = 1000,
                  std::uint64_t files_free = 1000) {
  VolumeData v;
  v.size_bytes = 100 * kGiB;
  v.free_bytes = v.size_bytes - used_gib * kGiB;
  v.avail_bytes = v.free_bytes;
  v.files = files;
  v.files_free = files_free;
  return v;
}

GcEntry Entry(std::string name, std::uint64_t gib, hours age, const FakeClock& clock) {
  GcEntry e;
  e.name = std::move(name);
  e.bytes = gib * kGiB;
  e.inodes = 10;
  e.newest = clock.Now() - age;
  return e;
}

GcPolicy Watermark(const char* high, const char* low) {
  GcPolicy p;
  p.name = "t";
  p.path = "dind";
  p.triggers.used_above = *ParseSize(high);
  p.triggers.until_below = *ParseSize(low);
  return p;
}

std::vector<std::string> Chosen(const GcPlan& plan) {
  std::vector<std::string> out;
  for (const auto& i : plan.items) {
    if (i.decision == GcDecision::kDelete) out.push_back(i.entry.name);
  }
  return out;
}

const GcPlanItem& Item(const GcPlan& plan, const std::string& name) {
  for (const auto& i : plan.items) {
    if (i.entry.name == name) return i;
  }
  FAIL("no item " << name);
  return plan.items.front();
}

TEST_CASE("gc stops at the low watermark", "[gc][select]") {
  FakeClock clock;
  VolumeData v = Volume(90);  // 90% used; low mark 80%: 10 GiB to free
  std::vector<GcEntry> e = {Entry("a", 4, hours(10), clock), Entry("b", 4, hours(9), clock),
                            Entry("c", 4, hours(8), clock), Entry("d", 4, hours(7), clock)};
  GcPlan plan = PlanGc(Watermark("85%", "80%"), e, &v, clock.Now());
  CHECK(plan.triggered);
  CHECK(plan.need_bytes == 10 * kGiB);
  CHECK(Chosen(plan) == std::vector<std::string>{"a", "b", "c"});  // 12 GiB >= 10
  CHECK(Item(plan, "d").why == "target reached");
}

TEST_CASE("gc with a low mark above the high one frees down to the high one", "[gc][select]") {
  FakeClock clock;
  VolumeData v = Volume(90);  // 90 GiB used; high 85%, low "95GiB" (mixed units)
  std::vector<GcEntry> e = {Entry("a", 4, hours(10), clock), Entry("b", 4, hours(9), clock)};
  GcPlan plan = PlanGc(Watermark("85%", "95GiB"), e, &v, clock.Now());
  CHECK(plan.triggered);
  CHECK(plan.need_bytes == 5 * kGiB);
  CHECK(Chosen(plan) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("gc below the high watermark does nothing", "[gc][select]") {
  FakeClock clock;
  VolumeData v = Volume(84);
  GcPlan plan = PlanGc(Watermark("85%", "80%"), {Entry("a", 4, hours(10), clock)}, &v, clock.Now());
  CHECK_FALSE(plan.triggered);
  CHECK(Chosen(plan).empty());
  CHECK(Item(plan, "a").why == "no trigger holds");
  // Without a volume the volume triggers cannot fire.
  CHECK_FALSE(PlanGc(Watermark("1%", "1%"), {Entry("a", 4, hours(10), clock)}, nullptr, clock.Now())
                  .triggered);
}

TEST_CASE("gc never takes entries younger than min_age", "[gc][select]") {
  FakeClock clock;
  VolumeData v = Volume(99);
  GcPolicy p = Watermark("85%", "80%");
  p.min_age = hours(6);
  GcPlan plan = PlanGc(p, {Entry("old", 1, hours(7), clock), Entry("young", 50, hours(5), clock)},
                       &v, clock.Now());
  CHECK(Chosen(plan) == std::vector<std::string>{"old"});
  CHECK(Item(plan, "young").skip == SkipReason::kYoung);
  CHECK(Item(plan, "young").decision == GcDecision::kSkip);
}

TEST_CASE("gc orders oldest first or largest first", "[gc][select]") {
  FakeClock clock;
  VolumeData v = Volume(86);  // 6 GiB to free
  std::vector<GcEntry> e = {Entry("small-old", 1, hours(50), clock),
                            Entry("big-new", 8, hours(2), clock),
                            Entry("mid", 3, hours(20), clock)};
  GcPolicy p = Watermark("85%", "80%");
  CHECK(Chosen(PlanGc(p, e, &v, clock.Now())) ==
        std::vector<std::string>{"small-old", "mid", "big-new"});
  p.order = GcOrder::kLargestFirst;
  CHECK(Chosen(PlanGc(p, e, &v, clock.Now())) == std::vector<std::string>{"big-new"});
}

TEST_CASE("gc respects max_entries and max_bytes", "[gc][select]") {
  FakeClock clock;
  std::vector<GcEntry> e = {Entry("a", 2, hours(10), clock), Entry("b", 5, hours(9), clock),
                            Entry("c", 1, hours(8), clock)};
  GcPolicy p;
  p.name = "t";
  p.triggers.always = true;
  p.max_entries = 2;
  CHECK(Chosen(PlanGc(p, e, nullptr, clock.Now())) == std::vector<std::string>{"a", "b"});
  p.max_entries = 0;
  p.max_bytes = 3 * kGiB;
  GcPlan plan = PlanGc(p, e, nullptr, clock.Now());
  CHECK(Chosen(plan) == std::vector<std::string>{"a", "c"});
  CHECK(Item(plan, "b").why.find("max_bytes") != std::string::npos);
}

TEST_CASE("gc exclusions are globs and excluded entries are never chosen", "[gc][select]") {
  FakeClock clock;
  GcPolicy p = DefaultDindPolicy();
  p.triggers = {};
  p.triggers.always = true;
  p.include = {"build-*", "cache_*"};
  GcPlan plan =
      PlanGc(p,
             {Entry("cache_keep", 1, hours(100), clock), Entry("build-1", 1, hours(100), clock),
              Entry("other", 1, hours(100), clock)},
             nullptr, clock.Now());
  CHECK(Chosen(plan) == std::vector<std::string>{"build-1"});
  CHECK(Item(plan, "cache_keep").skip == SkipReason::kExcluded);
  CHECK(Item(plan, "other").skip == SkipReason::kExcluded);
}

TEST_CASE("gc older_than takes every old entry and nothing younger", "[gc][select]") {
  FakeClock clock;
  GcPolicy p = DefaultDindPolicy();  // 24 h, min_age 6 h, 85%/80%
  VolumeData v = Volume(50);
  GcPlan plan = PlanGc(p,
                       {Entry("day2", 1, hours(48), clock), Entry("day1", 1, hours(25), clock),
                        Entry("h10", 1, hours(10), clock)},
                       &v, clock.Now());
  CHECK(Chosen(plan) == std::vector<std::string>{"day2", "day1"});
  clock.Advance(hours(15));  // h10 is now 25 h old
  plan = PlanGc(p, {Entry("h10", 1, hours(25), clock)}, &v, clock.Now());
  CHECK(Chosen(plan) == std::vector<std::string>{"h10"});
}

TEST_CASE("gc guards: mounts, open files and measuring errors", "[gc][select]") {
  FakeClock clock;
  GcPolicy p;
  p.name = "t";
  p.triggers.always = true;
  p.skip_open = true;
  GcEntry m = Entry("m", 1, hours(5), clock);
  m.has_mount = true;
  GcEntry o = Entry("o", 1, hours(5), clock);
  o.open = true;
  GcEntry e = Entry("e", 1, hours(5), clock);
  e.error = "Permission denied";
  GcPlan plan = PlanGc(p, {m, o, e}, nullptr, clock.Now());
  CHECK(Chosen(plan).empty());
  CHECK(Item(plan, "m").skip == SkipReason::kMount);
  CHECK(Item(plan, "o").skip == SkipReason::kOpen);
  CHECK(Item(plan, "e").skip == SkipReason::kError);
  p.unmount_stale = true;
  p.skip_open = false;
  CHECK(Chosen(PlanGc(p, {m, o}, nullptr, clock.Now())) == std::vector<std::string>{"m", "o"});
}

TEST_CASE("gc free_below, inode and total_above triggers set their targets", "[gc][select]") {
  FakeClock clock;
  std::vector<GcEntry> e = {Entry("a", 3, hours(10), clock), Entry("b", 3, hours(9), clock),
                            Entry("c", 3, hours(8), clock)};
  GcPolicy p;
  p.name = "t";
  p.triggers.free_below = SizeSpec::Bytes(15 * kGiB);
  VolumeData v = Volume(90);  // 10 GiB available: 5 to free
  GcPlan plan = PlanGc(p, e, &v, clock.Now());
  CHECK(plan.need_bytes == 5 * kGiB);
  CHECK(Chosen(plan) == std::vector<std::string>{"a", "b"});

  GcPolicy q;
  q.name = "t";
  q.triggers.total_above = SizeSpec::Bytes(7 * kGiB);  // 9 GiB of entries: 2 to free
  CHECK(Chosen(PlanGc(q, e, &v, clock.Now())) == std::vector<std::string>{"a"});

  GcPolicy r;
  r.name = "t";
  r.triggers.inodes_used_above = SizeSpec::Percent(90);
  r.triggers.inodes_until_below = SizeSpec::Percent(85);
  VolumeData iv = Volume(10, 1000, 50);  // 95% inodes used: 100 to free, 10 per entry
  plan = PlanGc(r, e, &iv, clock.Now());
  CHECK(plan.need_inodes == 100);
  CHECK(Chosen(plan).size() == 3);  // all of them, still short
}

TEST_CASE("gc skips an entry mounted in another namespace even with unmount_stale",
          "[gc][select]") {
  FakeClock clock;
  GcPolicy p = Watermark("50%", "10%");
  p.unmount_stale = true;
  VolumeData v = Volume(90);
  std::vector<GcEntry> e = {Entry("own", 1, hours(10), clock), Entry("busy", 1, hours(10), clock)};
  e[0].has_mount = true;  // ours: unmount_stale detaches it
  e[1].has_mount = true;
  e[1].foreign_mount = "/tmp/earthly/dind/busy/merged (overlay, pid 7 dockerd)";
  GcPlan plan = PlanGc(p, e, &v, clock.Now());
  CHECK(Chosen(plan) == std::vector<std::string>{"own"});
  CHECK(Item(plan, "busy").skip == SkipReason::kMount);
  CHECK(Item(plan, "busy").why.find("pid 7 dockerd") != std::string::npos);
}

TEST_CASE("a future mtime is reported and does not keep an entry young: it ages by ctime",
          "[gc][select][guards]") {
  FakeClock clock;
  GcPolicy p = Watermark("85%", "80%");
  p.min_age = hours(6);
  VolumeData v = Volume(90);
  // Touched to a year ahead three days ago (ctime then), and one touched so an hour ago.
  GcEntry old_touch = Entry("old-touch", 2, hours(-24 * 365), clock);
  old_touch.newest_ctime = clock.Now() - hours(72);
  GcEntry new_touch = Entry("new-touch", 2, hours(-24 * 365), clock);
  new_touch.newest_ctime = clock.Now() - hours(1);
  // Within the skew: believed, and young.
  GcEntry skewed = Entry("skewed", 2, hours(0), clock);
  skewed.newest = clock.Now() + std::chrono::minutes(4);
  skewed.newest_ctime = clock.Now() - hours(72);
  GcPlan plan = PlanGc(p, {old_touch, new_touch, skewed}, &v, clock.Now());
  CHECK(Chosen(plan) == std::vector<std::string>{"old-touch"});
  CHECK(Item(plan, "old-touch").future_mtime);
  CHECK(Item(plan, "old-touch").age == hours(72));
  CHECK(Item(plan, "old-touch").why.find("future") != std::string::npos);
  CHECK(Item(plan, "new-touch").skip == SkipReason::kYoung);
  CHECK(Item(plan, "new-touch").future_mtime);
  CHECK_FALSE(Item(plan, "skewed").future_mtime);
  CHECK(Item(plan, "skewed").skip == SkipReason::kYoung);
  CHECK(plan.future_mtime_entries == 2);
  nlohmann::json j = plan.ToJson();
  CHECK(j["future_mtime_entries"] == 2);
  CHECK(j["entries"][0]["future_mtime"] == true);
}

TEST_CASE("an entry that could not be measured has no age: null in JSON", "[gc][select][guards]") {
  FakeClock clock;
  GcPolicy p = Watermark("85%", "80%");
  VolumeData v = Volume(90);
  GcEntry broken;
  broken.name = "broken";
  broken.error = "Permission denied";
  GcPlan plan = PlanGc(p, {broken, Entry("ok", 1, hours(48), clock)}, &v, clock.Now());
  CHECK_FALSE(Item(plan, "broken").measured());
  nlohmann::json j = plan.ToJson();
  for (const auto& e : j["entries"]) {
    INFO(e.dump());
    CHECK(e["age_seconds"].is_null() == (e["entry"] == "broken"));
  }
}

TEST_CASE("gc skip reasons and decisions: one name each, both directions", "[gc][names]") {
  testing::CheckNameTable<SkipReason>(kSkipReasonNames, SkipReason::kMountPoint);
  testing::CheckNameTable<GcDecision>(kGcDecisionNames, GcDecision::kKeep);
  // The label set is the table without kNone.
  CHECK(std::size(kAllSkipReasons) + 1 == std::size(kSkipReasonNames));
  for (SkipReason r : kAllSkipReasons) CHECK(r != SkipReason::kNone);
}

}  // namespace
}  // namespace cachewarden
