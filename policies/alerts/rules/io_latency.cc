#include "policies/alerts/rules/io_latency.h"

#include <fmt/format.h>

#include "policies/alerts/rule_support.h"
#include "probes/latency.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;

constexpr RuleParam kLatencyParams[] = {
    {"warning_p99", ParamKind::kDuration, 0.1},
    {"critical_p99", ParamKind::kDuration, 1},
    {"window", ParamKind::kDuration, 300},
};

}  // namespace

constinit const RuleDef kCacheIOLatencyHigh = {
    .name = "CacheIOLatencyHigh",
    .default_for = minutes(5),
    .default_keep_firing_for = minutes(5),
    .params = kLatencyParams,
    .severities = kWarningAndCritical,
    .eval = &EvalOf<&ExtractLatency, &DecideLatency>,
};

std::optional<LatencyInput> ExtractLatency(const Snapshot& s, SystemTime now, const RuleConfig& c) {
  auto l = s.Get<LatencyData>();
  if (l == nullptr) return std::nullopt;
  LatencyInput in;
  in.path = CachePath(s);
  const auto window =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(c.Param("window")));
  for (int op = 0; op < kOpCount; ++op) {
    if (auto p99 = WindowQuantile(*l, op, now - window, 0.99)) {
      in.p99_seconds.emplace_back(LatencyOpName(op), *p99);
    }
  }
  return in;
}

void DecideLatency(const LatencyInput& in, const RuleConfig& c, RuleOutcome* out) {
  std::string figures;
  for (const auto& [op, p99] : in.p99_seconds) {
    for (auto [sev, key] : {std::pair{Severity::kWarning, "warning_p99"},
                            std::pair{Severity::kCritical, "critical_p99"}}) {
      const double threshold = c.Param(key);
      Candidate cand = MakeCandidate(sev, p99 > threshold, p99 > 0.8 * threshold, p99);
      cand.labels = {{"op", op}};
      cand.summary = fmt::format("{} latency on the cache {} is {:.0f} ms at p99 (above {:.0f} ms)",
                                 op, in.path, p99 * 1000, threshold * 1000);
      cand.description = fmt::format(
          "The active probe's {} requests on {} took {:.0f} ms at the 99th percentile. Builds slow "
          "down accordingly. Check the disk's load (iostat), noisy neighbours on a shared node "
          "disk, or a network filesystem; move the cache to a dedicated local volume.",
          op, in.path, p99 * 1000);
      out->candidates.push_back(std::move(cand));
    }
    figures += fmt::format("{}{} {:.1f} ms", figures.empty() ? "" : ", ", op, p99 * 1000);
  }
  if (!figures.empty()) {
    out->ok_summary = fmt::format("I/O latency on {} at p99: {}", in.path, figures);
  }
}

}  // namespace cachewarden
