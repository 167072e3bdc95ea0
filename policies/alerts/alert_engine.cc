#include "policies/alerts/alert_engine.h"

#include <fmt/format.h>

namespace cachewarden {

MetricLabels Alert::AllLabels() const {
  MetricLabels out = {{"alertname", name}, {"severity", std::string(SeverityName(severity))}};
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

std::string Alert::Key() const {
  std::string key = fmt::format("{}|{}", name, SeverityName(severity));
  for (const auto& [k, v] : labels) key += fmt::format("|{}={}", k, v);
  return key;
}

AlertEngine::AlertEngine(AlertsConfig config, Duration resolved_retention)
    : config_(std::move(config)), resolved_retention_(resolved_retention) {}

void AlertEngine::Reconfigure(AlertsConfig config, Duration resolved_retention) {
  config_ = std::move(config);
  resolved_retention_ = resolved_retention;
}

void AlertEngine::Lapse(Alert& a, const RuleConfig& rc, SystemTime now,
                        std::vector<AlertChange>* changes) {
  const AlertState from = a.state;
  if (from == AlertState::kPending) {
    a.state = AlertState::kInactive;
  } else if (from == AlertState::kFiring &&
             (!rc.enabled || now - a.last_held >= rc.keep_firing_for)) {
    a.state = AlertState::kResolved;
    a.resolved_at = now;
  }
  if (a.state != from) changes->push_back({a, from});
}

void AlertEngine::Step(const RuleDef& def, const RuleConfig& rc, const Candidate& cand,
                       SystemTime now, std::map<std::string, bool>* seen,
                       std::vector<AlertChange>* changes) {
  Alert probe;
  probe.name = std::string(def.name);
  probe.severity = cand.severity;
  probe.labels = cand.labels;
  const std::string key = probe.Key();
  (*seen)[key] = true;
  auto it = alerts_.find(key);
  const AlertState was = it == alerts_.end() ? AlertState::kInactive : it->second.state;
  const bool active = was == AlertState::kPending || was == AlertState::kFiring;
  // Only a firing alert is kept by the relaxed condition: a pending one must meet the threshold
  // itself at every evaluation for `for`, so a value hovering at the threshold cannot creep into
  // firing.
  if (!(was == AlertState::kFiring ? cand.holds : cand.fires)) {
    if (it != alerts_.end()) Lapse(it->second, rc, now, changes);
    return;
  }
  if (it == alerts_.end()) it = alerts_.emplace(key, std::move(probe)).first;
  Alert& a = it->second;
  const AlertState from = a.state;
  if (!active) {
    a.state = AlertState::kPending;
    a.active_since = now;
  }
  a.last_held = now;
  a.value = cand.value;
  a.summary = cand.summary;
  a.description = cand.description;
  if (a.state == AlertState::kPending && now - a.active_since >= rc.for_duration) {
    a.state = AlertState::kFiring;
    a.firing_since = now;
  }
  if (a.state != from) changes->push_back({a, from});
}

std::vector<AlertChange> AlertEngine::Evaluate(const Snapshot& snapshot, SystemTime now) {
  std::vector<AlertChange> changes;
  for (const auto& def : RuleTable()) {
    const RuleConfig& rc = config_.Rule(def.name);
    std::map<std::string, bool> seen;
    if (rc.enabled) {
      RuleOutcome outcome;
      if (!def.eval(snapshot, now, rc, &outcome)) continue;  // input unknown
      for (const auto& c : outcome.candidates) Step(def, rc, c, now, &seen, &changes);
    }
    // Alerts the rule no longer mentions (or all, for a disabled rule) lapse.
    for (auto& [key, a] : alerts_) {
      if (a.name == def.name && !seen.contains(key)) Lapse(a, rc, now, &changes);
    }
  }
  std::erase_if(alerts_, [&](const auto& kv) {
    const Alert& a = kv.second;
    return a.state == AlertState::kInactive ||
           (a.state == AlertState::kResolved && now - a.resolved_at >= resolved_retention_);
  });
  return changes;
}

void AlertEngine::ExportMetrics(MetricWriter& out) const {
  for (bool firing : {true, false}) {
    const AlertState want = firing ? AlertState::kFiring : AlertState::kPending;
    for (const auto& def : RuleTable()) {
      if (!config_.Rule(def.name).enabled) continue;
      for (Severity sev : def.severities) {
        bool any = false;
        for (const auto& [key, a] : alerts_) {
          any = any || (a.name == def.name && a.severity == sev && a.state == want);
        }
        out.Gauge(
            firing ? "cachewarden_alert_firing" : "cachewarden_alert_pending",
            firing ? "1 if the alert is firing, 0 if not; present for every enabled rule."
                   : "1 if the alert's condition holds but not yet for its `for`, 0 if not.",
            any ? 1 : 0,
            {{"alertname", std::string(def.name)}, {"severity", std::string(SeverityName(sev))}});
      }
    }
  }
  std::map<std::string, SystemTime> since;
  for (const auto& [key, a] : alerts_) {
    if (a.state != AlertState::kFiring) continue;
    auto it = since.find(a.name);
    if (it == since.end() || a.firing_since < it->second) since[a.name] = a.firing_since;
  }
  for (const auto& [name, t] : since) {
    out.Gauge("cachewarden_alert_firing_since_timestamp_seconds",
              "When the alert (its earliest firing instance) started firing.", ToUnixSeconds(t),
              {{"alertname", name}});
  }
}

}  // namespace cachewarden
