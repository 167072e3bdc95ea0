#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/web_config.h"
#include "base/log.h"
#include "policies/alerts/alert_config.h"
#include "policies/gc/gc_config.h"
#include "probes/registry.h"

namespace cachewarden {

// The whole configuration: built-in defaults, overridden by the JSON file, overridden by
// command-line flags. Plain data (no probe or component is built while reading it), comparable
// section by section; immutable once loaded; a reload builds a new one.
struct Config {
  std::string source;  // the file it came from, or "built-in defaults"
  std::string root;    // the cache directory
  std::string listen;  // HTTP listener, e.g. ":9479" or "127.0.0.1:0"
  // The port the daemon's endpoint is bound to (listen's, or the one the kernel chose for port 0);
  // 0 outside the daemon. Not read from the file.
  int bound_port = 0;
  std::string proc_root;
  std::string sys_root;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kJson;
  std::vector<ProbeSpec> probes;
  GcConfig gc;
  AlertsConfig alerts;
  WebConfig web;  // the endpoint's TLS, auth, /status detail and limits
  // Every key with its effective value, for `config print`.
  nlohmann::json effective;

  const ProbeSpec* FindProbe(std::string_view name) const;
  // Where prune policies find BuildKit: `probes.buildkit`'s address list and call_timeout, read
  // (and so checked) whether or not the probe is enabled.
  BuildkitOptions Buildkit() const;
};

// Command-line flags that override the file.
struct ConfigOverrides {
  std::optional<std::string> root;
  std::optional<std::string> listen;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
};

// Loads `file` (nullopt: $CACHEWARDEN_CONFIG, else built-in defaults) and applies `overrides`.
// Throws ConfigError naming the JSON path of the problem.
Config LoadConfig(const std::optional<std::string>& file, const ConfigOverrides& overrides);

// Loads config from JSON text; `source` names it in messages. For tests and for LoadConfig.
Config LoadConfigText(const std::string& text, const std::string& source,
                      const ConfigOverrides& overrides);

// The cache root when neither file nor flag sets one: $EARTHLY_TMP_DIR, else /tmp/earthly.
std::string DefaultRoot();

}  // namespace cachewarden
