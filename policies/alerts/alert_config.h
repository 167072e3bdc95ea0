#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/config_reader.h"

namespace cachewarden {

// One rule's settings, from `alerts.rules.<Name>`. Each rule declares its own thresholds in its row
// (policies/alerts/rules/); their values live in `params`, in base units: percent as 0..100,
// durations in seconds, sizes in bytes, counts as numbers.
struct RuleConfig {
  bool enabled = true;
  Duration for_duration{};     // how long the condition must hold before firing
  Duration keep_firing_for{};  // how long a firing alert outlives its condition
  std::map<std::string, double, std::less<>> params;
  // The named threshold; every name in the rule's table row is present.
  double Param(std::string_view key) const;
};

// Where and how one HTTP notifier sends (an Alertmanager URL, a webhook).
struct HttpTargetConfig {
  std::string url;
  Duration timeout = std::chrono::seconds(10);
  std::string bearer_token;
  std::string basic_username;
  std::string basic_password;
  std::string ca_file;  // empty: the system's CA bundle
};

struct AlertmanagerConfig {
  // One target per URL (an HA pair gets every alert twice, as from Prometheus).
  std::vector<HttpTargetConfig> targets;
  Duration resend_interval = std::chrono::minutes(1);
  Duration resolve_resend_for = std::chrono::minutes(5);
  Duration max_backoff = std::chrono::minutes(1);
  int queue_size = 16;
  // Added to every alert's labels (Alertmanager and webhooks alike).
  std::vector<std::pair<std::string, std::string>> external_labels;
};

// Settings of the `alerts` section: rules and notifiers.
struct AlertsConfig {
  Duration evaluation_interval = std::chrono::seconds(15);
  // Base of each alert's generatorURL ("http://host:9479"); empty: derived from the host name and
  // the `listen` port.
  std::string external_url;
  std::map<std::string, RuleConfig, std::less<>> rules;  // every rule in the table
  AlertmanagerConfig alertmanager;
  std::vector<HttpTargetConfig> webhooks;  // same backoff/queue as alertmanager

  // The rule's config; the table default when `name` is unknown.
  const RuleConfig& Rule(std::string_view name) const;
};

// Reads the `alerts` section; throws ConfigError. A default-constructed AlertsConfig has no rules:
// use DefaultAlertsConfig() for the defaults.
AlertsConfig ReadAlertsConfig(ConfigReader& alerts);
AlertsConfig DefaultAlertsConfig();

}  // namespace cachewarden
