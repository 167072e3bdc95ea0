#include "policies/alerts/rules/buildkit_restarting.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"
#include "probes/buildkitd.h"
#include "probes/logs.h"

namespace cachewarden {

constinit const RuleDef kBuildkitRestarting = {
    .name = "BuildkitRestarting",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = {},
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractRestarting, &DecideRestarting>,
};

std::optional<RestartInput> ExtractRestarting(const Snapshot& s, SystemTime now) {
  auto process = s.Get<BuildkitdData>();
  // Without the probe, its defaults: the settings stay in one place.
  const BuildkitdOptions defaults;
  RestartInput in;
  in.window_seconds = ToSeconds(process ? process->restart_window : defaults.restart_window);
  in.threshold = process ? process->restart_threshold : defaults.restart_threshold;
  if (process != nullptr && (!process->processes.empty() || process->restarts > 0)) {
    in.source = "process";
    in.restarts_in_window = process->restarts_in_window;
    in.restarts = process->restarts;
    return in;
  }
  auto logs = s.Get<LogsData>();
  if (logs == nullptr || logs->files.empty()) return std::nullopt;
  in.source = "logs";
  const auto window =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(in.window_seconds));
  in.restarts_in_window = logs->RestartsSince(now - window);
  in.restarts = logs->restarts;
  return in;
}

void DecideRestarting(const RestartInput& in, const RuleConfig&, RuleOutcome* out) {
  const bool loop = static_cast<std::int64_t>(in.restarts_in_window) >= in.threshold;
  Candidate cand =
      MakeCandidate(Severity::kWarning, loop, false, static_cast<double>(in.restarts_in_window));
  cand.labels = {{"source", in.source}};
  cand.summary =
      fmt::format("buildkitd restarted {} time(s) within {} ({} since the agent started)",
                  in.restarts_in_window, DurationText(in.window_seconds), in.restarts);
  cand.description = fmt::format(
      "buildkitd is in a crash loop ({} restarts within {}, seen {}): builds fail or hang while "
      "it is down. Look at its last log lines before each start (a panic, \"buildkit process has "
      "exited with code N\", an OOM kill: see BuildkitOOMKilled and BuildkitCacheCorrupted), "
      "fix the cause, then let it start once.",
      in.restarts_in_window, DurationText(in.window_seconds),
      in.source == "process" ? "from its process" : "in its log");
  out->candidates.push_back(std::move(cand));
  out->ok_summary = fmt::format(
      "buildkitd restarted {} time(s) within the last {} ({}; {} is a "
      "crash loop)",
      in.restarts_in_window, DurationText(in.window_seconds),
      in.source == "process" ? "its process" : "its log", in.threshold);
}

}  // namespace cachewarden
