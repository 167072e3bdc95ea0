#include "policies/alerts/rules/log_events.h"

#include <fmt/format.h>

#include "probes/logs.h"

namespace cachewarden {
namespace {

constexpr RuleParam kWindowParams[] = {{"window", ParamKind::kDuration, 900}};
// Corruption does not heal by itself: an hour, so that it is not missed between two looks.
constexpr RuleParam kCorruptionParams[] = {{"window", ParamKind::kDuration, 3600}};

std::optional<LogEventInput> ExtractLogEvent(const Snapshot& s, SystemTime now, LogEventKind kind) {
  auto logs = s.Get<LogsData>();
  if (logs == nullptr) return std::nullopt;
  LogEventInput in;
  in.path = CachePath(s);
  in.seconds_since_last = SecondsSince(logs->LastTime(kind), now);
  in.count = logs->Count(kind);
  in.files = logs->files.size();
  if (const LogEvent* e = logs->LastEvent(kind)) {
    in.last_line = e->line;
    in.last_entry_id = e->entry_id;
    in.last_path = e->path;
  }
  in.last_detail = logs->last_detail[static_cast<std::size_t>(kind)];
  return in;
}

// "No ... in buildkitd's log within the last 15m", when a log is followed at all.
std::string NoneWithin(const LogEventInput& in, const RuleConfig& c, std::string_view what) {
  if (in.files == 0) return "";
  return fmt::format("No {} in buildkitd's log within the last {} ({} since the agent started)",
                     what, DurationText(c.Param("window")), in.count);
}

}  // namespace

constinit const RuleDef kDindCleanupResourceBusy = {
    .name = "DindCleanupResourceBusy",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = kWindowParams,
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractResourceBusy, &DecideResourceBusy>,
};

constinit const RuleDef kCacheNoSpaceErrors = {
    .name = "CacheNoSpaceErrors",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = kWindowParams,
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractNoSpace, &DecideNoSpace>,
};

constinit const RuleDef kBuildkitCacheCorrupted = {
    .name = "BuildkitCacheCorrupted",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = kCorruptionParams,
    .severities = kCriticalOnly,
    .eval = &EvalOf<&ExtractCacheCorrupted, &DecideCacheCorrupted>,
};

std::optional<LogEventInput> ExtractResourceBusy(const Snapshot& s, SystemTime now) {
  return ExtractLogEvent(s, now, LogEventKind::kDindBusy);
}

std::optional<LogEventInput> ExtractNoSpace(const Snapshot& s, SystemTime now) {
  return ExtractLogEvent(s, now, LogEventKind::kDiskFull);
}

std::optional<LogEventInput> ExtractCacheCorrupted(const Snapshot& s, SystemTime now) {
  return ExtractLogEvent(s, now, LogEventKind::kCacheCorrupted);
}

void DecideResourceBusy(const LogEventInput& in, const RuleConfig& c, RuleOutcome* out) {
  const bool recent = in.seconds_since_last <= c.Param("window");
  Candidate cand = MakeCandidate(Severity::kWarning, recent, false, in.seconds_since_last);
  cand.summary =
      fmt::format("dind cleanup under {} failed with \"Resource busy\" {} ago{}", in.path,
                  DurationText(in.seconds_since_last),
                  in.last_entry_id.empty() ? ""
                                           : fmt::format(" (latest: entry {}, {}; {} in all)",
                                                         in.last_entry_id, in.last_path, in.count));
  cand.description = fmt::format(
      "buildkitd could not remove a docker-in-docker directory under {} because a mount was still "
      "alive under it{}. Leftovers accumulate and fill the disk (earthly#1647, #3696). Find the "
      "stale mounts (see DindStaleMounts: the pid and namespace that hold them), unmount them, "
      "remove the directory.",
      in.path, in.last_line.empty() ? "" : fmt::format(" (\"{}\")", in.last_line));
  out->candidates.push_back(std::move(cand));
  out->ok_summary = NoneWithin(in, c, "\"Resource busy\" failure removing dind entries");
}

void DecideNoSpace(const LogEventInput& in, const RuleConfig& c, RuleOutcome* out) {
  const bool recent = in.seconds_since_last <= c.Param("window");
  Candidate cand = MakeCandidate(Severity::kWarning, recent, false, in.seconds_since_last);
  cand.summary =
      fmt::format("buildkitd logged \"no space left on device\" {} ago ({} time(s) in all)",
                  DurationText(in.seconds_since_last), in.count);
  cand.description = fmt::format("Builds on {} failed for want of space{}. {}", in.path,
                                 in.last_line.empty() ? "" : fmt::format(" (\"{}\")", in.last_line),
                                 kFreeSpaceRemedy);
  out->candidates.push_back(std::move(cand));
  out->ok_summary = NoneWithin(in, c, "\"no space left on device\" error");
}

void DecideCacheCorrupted(const LogEventInput& in, const RuleConfig& c, RuleOutcome* out) {
  const bool recent = in.seconds_since_last <= c.Param("window");
  Candidate cand = MakeCandidate(Severity::kCritical, recent, false, in.seconds_since_last);
  cand.summary =
      fmt::format("buildkitd logged that its cache on {} is corrupted {} ago ({} in all)", in.path,
                  DurationText(in.seconds_since_last), in.count);
  std::string example = !in.last_line.empty() ? in.last_line : in.last_detail;
  cand.description = fmt::format(
      "BuildKit's cache metadata on {} is damaged{}: builds that touch it fail until it is "
      "repaired. First try `buildctl prune` (or `earthly prune`); if the errors go on, save what "
      "matters under the cache, then restart buildkitd with EARTHLY_RESET_TMP_DIR=true, which "
      "wipes the cache. A failing disk corrupts it again: see CacheIOErrors and dmesg.",
      in.path, example.empty() ? "" : fmt::format(" (\"{}\")", example));
  out->candidates.push_back(std::move(cand));
  out->ok_summary = NoneWithin(in, c, "cache corruption");
}

}  // namespace cachewarden
