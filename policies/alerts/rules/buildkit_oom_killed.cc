#include "policies/alerts/rules/buildkit_oom_killed.h"

#include <fmt/format.h>

#include "base/units.h"
#include "policies/alerts/rule_support.h"
#include "probes/buildkitd.h"

namespace cachewarden {
namespace {

constexpr RuleParam kParams[] = {{"window", ParamKind::kDuration, 900}};

std::string Bytes(const std::optional<std::uint64_t>& v) {
  return v ? HumanBytes(static_cast<double>(*v)) : "?";
}

// "uses 3.0GiB (RSS 2.0GiB) of its 4.0GiB limit", or "" without figures.
std::string MemoryText(const OomInput& in) {
  if (!in.present) return "";
  std::string limit = in.limit_bytes ? "of its " + Bytes(in.limit_bytes) + " limit" : "(no limit)";
  return fmt::format("buildkitd's cgroup uses {} (RSS {}) {}", Bytes(in.usage_bytes),
                     Bytes(in.resident_bytes), limit);
}

}  // namespace

constinit const RuleDef kBuildkitOOMKilled = {
    .name = "BuildkitOOMKilled",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = kParams,
    .severities = kCriticalOnly,
    .eval = &EvalOf<&ExtractOomKilled, &DecideOomKilled>,
};

std::optional<OomInput> ExtractOomKilled(const Snapshot& s, SystemTime now) {
  auto d = s.Get<BuildkitdData>();
  if (d == nullptr) return std::nullopt;
  OomInput in;
  in.seconds_since_last = SecondsSince(d->last_oom_kill, now);
  in.kills = d->oom_kills;
  in.present = !d->processes.empty();
  if (in.present) {
    const auto& p = d->processes.front();
    in.resident_bytes = p.resident_bytes;
    in.limit_bytes = p.memory.limit_bytes;
    in.usage_bytes = p.memory.usage_bytes;
  }
  return in;
}

void DecideOomKilled(const OomInput& in, const RuleConfig& c, RuleOutcome* out) {
  const bool recent = in.seconds_since_last <= c.Param("window");
  Candidate cand = MakeCandidate(Severity::kCritical, recent, false, in.seconds_since_last);
  cand.summary =
      fmt::format("The kernel OOM-killed a process in buildkitd's cgroup {} ago ({} in all)",
                  DurationText(in.seconds_since_last), in.kills);
  const std::string memory = MemoryText(in);
  cand.description = fmt::format(
      "buildkitd's memory cgroup hit its limit and the kernel killed a process in it{}: builds "
      "fail, and a killed buildkitd restarts and loses its running builds. Raise the container's "
      "memory limit, or lower BUILDKIT_MAX_PARALLELISM so fewer steps run at once.",
      memory.empty() ? "" : " (" + memory + ")");
  out->candidates.push_back(std::move(cand));
  out->ok_summary =
      fmt::format("No OOM kill in buildkitd's cgroup within the last {}{}",
                  DurationText(c.Param("window")), memory.empty() ? "" : "; " + memory);
}

}  // namespace cachewarden
