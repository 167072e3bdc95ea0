#include "policies/alerts/rules/io_errors.h"

#include <fmt/format.h>

#include <cerrno>

#include "probes/latency.h"
#include "probes/logs.h"

namespace cachewarden {
namespace {

constexpr RuleParam kWindowParams[] = {{"window", ParamKind::kDuration, 900}};

}  // namespace

constinit const RuleDef kCacheIOErrors = {
    .name = "CacheIOErrors",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = kWindowParams,
    .severities = kCriticalOnly,
    .eval = &EvalOf<&ExtractIoErrors, &DecideIoErrors>,
};

std::optional<IoErrorsInput> ExtractIoErrors(const Snapshot& s, SystemTime now) {
  auto logs = s.Get<LogsData>();
  auto latency = s.Get<LatencyData>();
  if (logs == nullptr && s.Find(LatencyData::kProbe) == nullptr) return std::nullopt;
  IoErrorsInput in;
  in.path = CachePath(s);
  if (logs) in.seconds_since_log_error = SecondsSince(logs->LastTime(LogEventKind::kIoError), now);
  // The latest run's: a run without EIO clears it. A run that failed outright (say, EIO creating
  // its file) keeps older data: look at its error.
  if (const ProbeResult* r = s.Find(LatencyData::kProbe)) {
    in.probe_eio = r->status.ok() ? latency && latency->eio : r->status.error_number() == EIO;
  }
  return in;
}

void DecideIoErrors(const IoErrorsInput& in, const RuleConfig& c, RuleOutcome* out) {
  constexpr std::string_view kRemedy =
      "The disk or its filesystem is failing: BuildKit's bolt databases (metadata_v2.db) get "
      "corrupted (earthly#3991). Check dmesg and the disk's health; stop buildkitd, repair or "
      "replace the volume, and expect to rebuild the cache.";
  const std::string summary = fmt::format("I/O errors on the cache filesystem at {}", in.path);
  Candidate probe = MakeCandidate(Severity::kCritical, in.probe_eio, false, in.probe_eio ? 1 : 0);
  probe.labels = {{"source", "probe"}};
  probe.summary = summary;
  probe.description =
      fmt::format("cachewarden's active I/O probe got EIO on {}. {}", in.path, kRemedy);
  out->candidates.push_back(std::move(probe));

  const bool recent = in.seconds_since_log_error <= c.Param("window");
  Candidate logs = MakeCandidate(Severity::kCritical, recent, false, recent ? 1 : 0);
  logs.labels = {{"source", "logs"}};
  logs.summary = summary;
  logs.description = fmt::format("\"input/output error\" appeared in BuildKit's logs {} ago. {}",
                                 DurationText(in.seconds_since_log_error), kRemedy);
  out->candidates.push_back(std::move(logs));
}

}  // namespace cachewarden
