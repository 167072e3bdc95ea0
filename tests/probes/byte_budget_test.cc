#include "probes/byte_budget.h"

#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>

#include "policies/alerts/assessment.h"
#include "probes/buildkit.h"
#include "probes/scan.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

const SystemTime kNow = SystemTime(std::chrono::seconds(1'700'000'000));
constexpr std::uint64_t kGiB = 1ULL << 30;

std::string MetricsText(const Snapshot& s) {
  MetricWriter w;
  s.ExportMetrics(w);
  return prometheus::TextSerializer().Serialize(w.Take());
}

// A 100 GiB volume with 80 GiB used; a scan of the cache directory (buildkit/ 50 GiB, dind/ 20
// GiB, other 1 GiB) five minutes old; BuildKit counting `counted` GiB; 2 GiB deleted but open.
Snapshot Cache(std::uint64_t counted) {
  Snapshot s;
  auto vol = std::make_shared<VolumeData>();
  vol->path = "/c";
  vol->size_bytes = 100 * kGiB;
  vol->free_bytes = vol->avail_bytes = 20 * kGiB;
  DeletedOpenFiles held;
  held.bytes = 2 * kGiB;
  held.files = 1;
  held.largest.push_back({77, "buildkitd", "/c/buildkit/x.log", 2 * kGiB});
  vol->deleted_open = held;
  s.Put<VolumeData>(vol, kNow);
  auto scan = std::make_shared<ScanData>();
  scan->root = "/c";
  scan->scanned_at = kNow - std::chrono::minutes(5);
  scan->groups = {{"buildkit", {}}, {"dind", {}}, {"other", {}}};
  scan->groups[0].totals.allocated_bytes = 50 * kGiB;
  scan->groups[1].totals.allocated_bytes = 20 * kGiB;
  scan->groups[2].totals.allocated_bytes = 1 * kGiB;
  scan->total.allocated_bytes = 71 * kGiB;
  s.Put<ScanData>(scan, kNow);
  auto bk = std::make_shared<BuildkitData>();
  bk->usage.total_bytes = static_cast<std::int64_t>(counted * kGiB);
  bk->usage.records = 1234;
  s.Put<BuildkitData>(bk, kNow);
  return s;
}

TEST_CASE(
    "the byte budget splits the volume's used bytes into BuildKit's, what it does not count, "
    "dind, other, deleted open files and the rest",
    "[byte_budget]") {
  auto b = ComputeByteBudget(Cache(44), kNow);
  REQUIRE(b);
  CHECK(b->volume_used == 80 * kGiB);
  CHECK(b->buildkit_bytes == 44 * kGiB);
  REQUIRE(b->unaccounted);
  CHECK(*b->unaccounted == 6 * kGiB);
  // 80 used = 71 in the cache directory + 2 deleted open + 7 elsewhere on the filesystem.
  CHECK(b->outside == 7 * kGiB);
  CHECK(b->Unmanaged() == (6 + 20 + 1 + 2) * kGiB);
  const std::string text = ByteBudgetText(*b);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("byte budget of /c (100.0 GiB volume, 80.0 GiB used)"));
  CHECK_THAT(text, Catch::Contains("BuildKit's own count") && Catch::Contains("44.0 GiB") &&
                       Catch::Contains("1234 records"));
  CHECK_THAT(text,
             Catch::Contains("buildkit/, not counted by BuildKit") && Catch::Contains("6.0 GiB"));
  CHECK_THAT(text, Catch::Contains("held by pid 77 (buildkitd): /c/buildkit/x.log"));
  CHECK_THAT(text, Catch::Contains("outside the cache directory") && Catch::Contains("7.0 GiB"));
  const auto j = ByteBudgetJson(*b);
  CHECK(j["unaccounted_bytes"] == 6 * kGiB);
  CHECK(j["rows"].size() == 6);  // BuildKit, unaccounted, dind, other, deleted open, outside
  CHECK(j["deleted_open"]["largest"][0]["pid"] == 77);
  // The snapshot's JSON (/status, check --json) and metrics carry it.
  const Snapshot s = Cache(44);
  CHECK(s.ToJson(kNow)["byte_budget"]["unaccounted_bytes"] == 6 * kGiB);
  CHECK_THAT(MetricsText(s), Catch::Contains("cachewarden_buildkit_unaccounted_bytes 6442450944"));
}

TEST_CASE("the byte budget leaves out what it cannot compare", "[byte_budget]") {
  // BuildKit counting more than the directory holds (shared snapshots): nothing unaccounted.
  CHECK(*ComputeByteBudget(Cache(60), kNow)->unaccounted == 0);
  // A scan older than an hour against BuildKit's live count: not compared, and not shown.
  const SystemTime later = kNow + std::chrono::hours(2);
  auto b = ComputeByteBudget(Cache(44), later);
  CHECK_FALSE(b->scanned);
  CHECK_FALSE(b->unaccounted);
  CHECK_THAT(ByteBudgetText(*b), Catch::Contains("no scan in the last hour"));
  // BuildKit's latest run failed: its figures are not the budget's.
  Snapshot s = Cache(44);
  ProbeResult failed = *s.Find("buildkit");
  failed.status = Status::Error(StatusCode::kTimeout, "deadline");
  s.Set(failed);
  b = ComputeByteBudget(s, kNow);
  CHECK_FALSE(b->buildkit_counted);
  CHECK_FALSE(b->unaccounted);
  CHECK_THAT(ByteBudgetText(*b), Catch::Contains("BuildKit not asked or not answering"));
  CHECK_THAT(MetricsText(s), !Catch::Contains("cachewarden_buildkit_unaccounted_bytes"));
  // Without the volume there is no budget.
  CHECK_FALSE(ComputeByteBudget(Snapshot(), kNow));
}

Finding UnaccountedFinding(const Snapshot& s) {
  for (const auto& f : Assess(s, DefaultAlertsConfig(), kNow)) {
    if (f.rule == "BuildkitUnaccountedLarge") return f;
  }
  return Finding{};
}

TEST_CASE("BuildkitUnaccountedLarge fires past 10% of the volume and 1 GiB not counted by BuildKit",
          "[policies][buildkit][byte_budget]") {
  // 6 GiB of 100: under 10%.
  CHECK(UnaccountedFinding(Cache(44)).severity == Severity::kOk);
  Finding f = UnaccountedFinding(Cache(35));  // 15 GiB
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.summary, Catch::StartsWith("15.0 GiB under /c/buildkit is not counted by BuildKit"));
  CHECK_THAT(f.remedy, Catch::Contains("metadata_v2.db"));
  CHECK(UnaccountedFinding(Snapshot()).rule.empty());
}

}  // namespace
}  // namespace cachewarden
