#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"
#include "policies/alerts/alert_config.h"
#include "policies/alerts/alert_rules.h"
#include "policies/alerts/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

enum class AlertState { kInactive, kPending, kFiring, kResolved };
// The spelling of a state in the alert-change log lines and /status JSON.
inline constexpr EnumName<AlertState> kAlertStateNames[] = {
    {AlertState::kInactive, "inactive"},
    {AlertState::kPending, "pending"},
    {AlertState::kFiring, "firing"},
    {AlertState::kResolved, "resolved"},
};
constexpr std::string_view AlertStateName(AlertState s) {
  return NameIn<AlertState>(kAlertStateNames, s);
}

// One alert: one severity of one labelled instance of a rule.
struct Alert {
  std::string name;  // the rule, the alertname label
  Severity severity = Severity::kWarning;
  MetricLabels labels;  // the rule's own labels (op, probe, ...)
  AlertState state = AlertState::kInactive;
  SystemTime active_since{};  // when the condition began to hold (pending)
  SystemTime firing_since{};  // when it fired (kFiring, kResolved)
  SystemTime last_held{};     // the last evaluation at which it held
  SystemTime resolved_at{};   // kResolved
  double value = 0;           // the latest figure
  std::string summary;
  std::string description;

  // alertname, severity, then the rule's labels.
  MetricLabels AllLabels() const;
  // Unique per alert: "name|severity|k=v|...".
  std::string Key() const;
};

struct AlertChange {
  Alert alert;  // after the change
  AlertState from;
};

// The alert lifecycle over a sequence of snapshots (Prometheus semantics):
// a condition that starts holding makes the alert pending; once it has held for the rule's `for`
// the alert fires; a firing alert whose condition stops holding stays firing for `keep_firing_for`,
// then resolves. While an alert is pending or firing the rule's relaxed condition (hysteresis)
// keeps it. A resolved alert that holds again goes back to pending (re-fire). A rule whose input is
// unknown leaves its alerts as they are. Resolved alerts are kept for `resolved_retention`, then
// forgotten.
//
// Pure: time comes from the caller. Not thread-safe (one owner).
class AlertEngine {
 public:
  explicit AlertEngine(AlertsConfig config, Duration resolved_retention = std::chrono::minutes(15));
  // New thresholds apply at the next evaluation; alerts of rules now disabled are forgotten.
  void Reconfigure(AlertsConfig config, Duration resolved_retention = std::chrono::minutes(15));

  // One evaluation of every enabled rule; returns the state changes.
  std::vector<AlertChange> Evaluate(const Snapshot& snapshot, SystemTime now);

  // Every known alert that is pending, firing or resolved, by Key().
  const std::map<std::string, Alert>& alerts() const { return alerts_; }
  const AlertsConfig& config() const { return config_; }

  // One-shot mode (`check`): what fires right now, ignoring `for` and keep_firing_for; only rules
  // marked in_check. Highest severity per instance.
  static std::vector<Alert> FiringNow(const Snapshot& snapshot, const AlertsConfig& config,
                                      SystemTime now);

 private:
  void Step(const RuleDef& def, const RuleConfig& rc, const Candidate& cand, SystemTime now,
            std::map<std::string, bool>* seen, std::vector<AlertChange>* changes);
  void Lapse(Alert& a, const RuleConfig& rc, SystemTime now, std::vector<AlertChange>* changes);

  AlertsConfig config_;
  Duration resolved_retention_;
  std::map<std::string, Alert> alerts_;
};

}  // namespace cachewarden
