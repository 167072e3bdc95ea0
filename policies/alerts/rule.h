#pragma once

#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/clock.h"
#include "base/metric_writer.h"
#include "policies/alerts/alert_config.h"
#include "policies/alerts/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

// An alert rule is the one place that decides one verdict about the cache: the daemon's alert
// engine and `check` both read what it says, so they cannot disagree. Each rule lives in its own
// file pair under policies/alerts/rules/: its input (plain figures), an extractor (the one place it
// reads the Snapshot), a pure decider (input and config to an outcome, with the texts), and its row
// (name, defaults, severities), listed in the table of alert_rules.cc.

// What one rule says about one alert (one severity of one labelled instance) at one evaluation. The
// rule computes both the strict condition and the relaxed one (the threshold minus its hysteresis
// margin); the engine uses the strict one to start an alert and the relaxed one to keep it, so a
// figure hovering at a threshold does not flap. `check` uses the strict one.
struct Candidate {
  Severity severity = Severity::kWarning;  // kWarning or kCritical
  MetricLabels labels;                     // besides alertname and severity, e.g. {"op", "read"}
  bool fires = false;                      // the condition holds
  bool holds = false;                      // the relaxed condition holds (fires implies holds)
  double value = 0;                        // the figure, in the rule's unit
  std::string summary;
  // The alert's description: what is wrong and the remedy; `check` prints it as the fix.
  std::string description;
};

// What one rule says at one evaluation.
struct RuleOutcome {
  // One per severity of each labelled instance the rule knows of, firing or not.
  std::vector<Candidate> candidates;
  // What `check` prints when none of the candidates fires: the figure the rule watches, or why all
  // is well ("/tmp/earthly is on ext4 ... a Docker named volume"). Empty: nothing worth a line.
  std::string ok_summary;
};

// A threshold a rule reads from `alerts.rules.<Name>`.
enum class ParamKind { kPercent, kDuration, kSize, kCount };
struct RuleParam {
  std::string_view key;
  ParamKind kind;
  double def;  // base units: percent, seconds, bytes, count
};

// Evaluates one rule over a snapshot at `now`: fills `out` and returns true, or returns false when
// its input is unknown (the probe it reads has no data), in which case the engine leaves the rule's
// alerts as they are and `check` reports nothing for it.
using RuleEval = bool (*)(const Snapshot& snapshot, SystemTime now, const RuleConfig& config,
                          RuleOutcome* out);

struct RuleDef {
  std::string_view name;  // the alertname label
  Duration default_for;
  Duration default_keep_firing_for;
  std::span<const RuleParam> params;
  std::span<const Severity> severities;  // the severities it can raise
  RuleEval eval;
  // True for a rule that says cachewarden itself could not look (CacheProbeFailing): `check`, a
  // monitoring plugin, reports its firing alerts as UNKNOWN (exit 3), not at the alert's severity.
  bool unknown_in_check = false;
};

// The severity `check` reports for a firing alert of `def` raised at `alert`.
constexpr Severity CheckSeverity(const RuleDef& def, Severity alert) {
  return def.unknown_in_check ? Severity::kUnknown : alert;
}

inline constexpr Severity kWarningOnly[] = {Severity::kWarning};
inline constexpr Severity kCriticalOnly[] = {Severity::kCritical};
inline constexpr Severity kWarningAndCritical[] = {Severity::kWarning, Severity::kCritical};

// Ties a rule's extractor to its decider: the RuleEval of a rule's row. An extractor takes the
// snapshot and the time, and the rule's config when its input depends on it (a window).
template <auto Extract, auto Decide>
bool EvalOf(const Snapshot& s, SystemTime now, const RuleConfig& c, RuleOutcome* out) {
  auto in = [&] {
    if constexpr (std::is_invocable_v<decltype(Extract), const Snapshot&, SystemTime,
                                      const RuleConfig&>) {
      return Extract(s, now, c);
    } else {
      return Extract(s, now);
    }
  }();
  if (!in) return false;
  Decide(*in, c, out);
  return true;
}

}  // namespace cachewarden
