#pragma once

#include "probes/config_reader.h"

namespace cachewarden {

// Settings of the `alerts` section: rules and notifiers.
// (Filled in by the alerting work; empty for now.)
struct AlertsConfig {};

// Reads the `alerts` section; throws ConfigError.
AlertsConfig ReadAlertsConfig(ConfigReader& alerts);

}  // namespace cachewarden
