#include "policies/alerts/rules/log_events.h"

#include <catch2/catch.hpp>

#include "policies/alerts/alert_config.h"
#include "probes/logs.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;

RuleConfig Defaults(std::string_view rule) { return DefaultAlertsConfig().Rule(rule); }

Snapshot WithEvent(LogEventKind kind, SystemTime at, SystemTime now) {
  auto l = std::make_shared<LogsData>();
  l->files.push_back({"/var/log/buildkitd.log", "configured", "", {}, ""});
  LogEvent e;
  e.kind = kind;
  e.time = at;
  e.line = "write /tmp/earthly/x: no space left on device";
  e.entry_id = "abc";
  e.path = "/var/earthly/dind/abc";
  l->recent.push_back(e);
  l->counts[static_cast<std::size_t>(kind)] = 3;
  l->last_time[static_cast<std::size_t>(kind)] = at;
  Snapshot s;
  s.Put<LogsData>(l, now);
  return s;
}

TEST_CASE("\"no space left on device\" in buildkitd's log warns while within the window",
          "[alerts][logs]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  RuleOutcome out;
  DecideNoSpace(*ExtractNoSpace(WithEvent(LogEventKind::kDiskFull, now - minutes(5), now), now),
                Defaults("CacheNoSpaceErrors"), &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].severity == Severity::kWarning);
  CHECK_THAT(out.candidates[0].summary, Catch::Contains("5m ago") && Catch::Contains("3 time"));
  CHECK_THAT(out.candidates[0].description, Catch::Contains("buildctl prune"));
  out = {};
  DecideNoSpace(*ExtractNoSpace(WithEvent(LogEventKind::kDiskFull, now - minutes(20), now), now),
                Defaults("CacheNoSpaceErrors"), &out);
  CHECK_FALSE(out.candidates[0].fires);
  CHECK_THAT(out.ok_summary, Catch::StartsWith("No \"no space left on device\" error"));
  CHECK_FALSE(ExtractNoSpace(Snapshot{}, now));
}

TEST_CASE("a Resource busy failure names the entry rm failed on", "[alerts][logs]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  RuleOutcome out;
  DecideResourceBusy(
      *ExtractResourceBusy(WithEvent(LogEventKind::kDindBusy, now - minutes(1), now), now),
      Defaults("DindCleanupResourceBusy"), &out);
  CHECK(out.candidates.at(0).fires);
  CHECK_THAT(out.candidates[0].summary,
             Catch::Contains("entry abc") && Catch::Contains("/var/earthly/dind/abc"));
}

TEST_CASE("cache corruption in buildkitd's log is critical for an hour, with the remedy",
          "[alerts][logs]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  RuleOutcome out;
  DecideCacheCorrupted(
      *ExtractCacheCorrupted(WithEvent(LogEventKind::kCacheCorrupted, now - minutes(50), now), now),
      Defaults("BuildkitCacheCorrupted"), &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].severity == Severity::kCritical);
  CHECK_THAT(out.candidates[0].description, Catch::Contains("prune") &&
                                                Catch::Contains("EARTHLY_RESET_TMP_DIR=true") &&
                                                Catch::Contains("save what matters"));
  out = {};
  DecideCacheCorrupted(
      *ExtractCacheCorrupted(WithEvent(LogEventKind::kCacheCorrupted, now - minutes(61), now), now),
      Defaults("BuildkitCacheCorrupted"), &out);
  CHECK_FALSE(out.candidates[0].fires);
  CHECK_THAT(out.ok_summary, Catch::StartsWith("No cache corruption"));
}

TEST_CASE("without a log file followed, the log rules have nothing to say when quiet",
          "[alerts][logs]") {
  LogEventInput in;
  in.path = "/tmp/earthly";
  RuleOutcome out;
  DecideResourceBusy(in, Defaults("DindCleanupResourceBusy"), &out);
  CHECK_FALSE(out.candidates.at(0).fires);
  CHECK(out.ok_summary.empty());
}

}  // namespace
}  // namespace cachewarden
