#include "policies/alerts/assessment.h"

#include <map>

#include "policies/alerts/alert_rules.h"

namespace cachewarden {
namespace {

// The findings of one rule's outcome: the worst firing candidate of each instance, or its OK line.
void RuleFindings(const RuleDef& def, RuleOutcome outcome, std::vector<Finding>* out) {
  std::map<MetricLabels, Candidate*> worst;  // by instance, in label order
  std::vector<MetricLabels> order;           // instances in the rule's order
  for (auto& c : outcome.candidates) {
    if (!c.fires) continue;
    auto [it, added] = worst.try_emplace(c.labels, &c);
    if (added) {
      order.push_back(c.labels);
    } else if (SeverityRank(c.severity) > SeverityRank(it->second->severity)) {
      it->second = &c;
    }
  }
  for (const auto& labels : order) {
    Candidate& c = *worst.at(labels);
    out->push_back({CheckSeverity(def, c.severity), std::string(def.name), c.labels,
                    std::move(c.summary), std::move(c.description)});
  }
  if (order.empty() && !outcome.ok_summary.empty()) {
    out->push_back({Severity::kOk, std::string(def.name), {}, std::move(outcome.ok_summary), ""});
  }
}

}  // namespace

std::vector<Finding> Assess(const Snapshot& snapshot, const AlertsConfig& alerts, SystemTime now) {
  std::vector<Finding> out;
  for (const auto& def : RuleTable()) {
    const RuleConfig& rc = alerts.Rule(def.name);
    if (!rc.enabled) continue;
    RuleOutcome outcome;
    if (!def.eval(snapshot, now, rc, &outcome)) continue;
    RuleFindings(def, std::move(outcome), &out);
  }
  return out;
}

}  // namespace cachewarden
