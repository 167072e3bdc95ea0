#include "policies/alerts/assessment.h"

#include <catch2/catch.hpp>

#include "probes/volume.h"

namespace cachewarden {
namespace {

Snapshot Volume(double avail_percent) {
  auto v = std::make_shared<VolumeData>();
  v->path = "/tmp/earthly";
  v->size_bytes = 1000;
  v->free_bytes = v->avail_bytes = static_cast<std::uint64_t>(avail_percent * 10);
  v->files = 100;
  v->files_free = 90;
  Snapshot s;
  s.Put<VolumeData>(v, SystemTime{});
  return s;
}

TEST_CASE("check's verdict is the highest severity of the alerts firing now", "[alerts][check]") {
  AlertsConfig config = DefaultAlertsConfig();
  auto findings = Assess(Volume(3), config);
  CHECK(Worst(findings) == Severity::kCritical);
  bool named = false;
  for (const auto& f : findings) {
    if (f.source == "CacheDiskAlmostFull") {
      named = true;
      CHECK(f.severity == Severity::kCritical);
      CHECK(f.summary.find("97.0%") != std::string::npos);
      CHECK_FALSE(f.remedy.empty());
    }
  }
  CHECK(named);
  CHECK(Worst(Assess(Volume(10), config)) == Severity::kWarning);
  CHECK(Worst(Assess(Volume(50), config)) == Severity::kOk);
  // The thresholds come from config; `for` does not delay a one-shot.
  config.rules["CacheDiskAlmostFull"].params["warning_percent"] = 40;
  CHECK(Worst(Assess(Volume(50), config)) == Severity::kWarning);
  config.rules["CacheDiskAlmostFull"].enabled = false;
  CHECK(Worst(Assess(Volume(3), config)) == Severity::kOk);
}

}  // namespace
}  // namespace cachewarden
