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
      std::vector<Candidate> candidates;
      if (!def.eval(snapshot, now, rc, &candidates)) continue;  // input unknown
      for (const auto& c : candidates) Step(def, rc, c, now, &seen, &changes);
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

std::vector<Alert> AlertEngine::FiringNow(const Snapshot& snapshot, const AlertsConfig& config,
                                          SystemTime now) {
  std::map<std::string, Alert> worst;  // by name and labels, without severity
  for (const auto& def : RuleTable()) {
    const RuleConfig& rc = config.Rule(def.name);
    if (!rc.enabled || !def.in_check) continue;
    std::vector<Candidate> candidates;
    if (!def.eval(snapshot, now, rc, &candidates)) continue;
    for (auto& c : candidates) {
      if (!c.fires) continue;
      Alert a;
      a.name = std::string(def.name);
      a.labels = std::move(c.labels);
      std::string key = a.Key();
      a.severity = c.severity;
      a.state = AlertState::kFiring;
      a.active_since = a.firing_since = a.last_held = now;
      a.value = c.value;
      a.summary = std::move(c.summary);
      a.description = std::move(c.description);
      auto it = worst.find(key);
      if (it == worst.end() || it->second.severity < a.severity) worst[key] = std::move(a);
    }
  }
  std::vector<Alert> out;
  for (auto& [key, a] : worst) out.push_back(std::move(a));
  return out;
}

}  // namespace cachewarden
