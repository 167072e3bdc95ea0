#pragma once

#include "probes/config_reader.h"

namespace cachewarden {

// Settings of the `gc` section: garbage-collection policies.
// (Filled in by the garbage-collection work; empty for now.)
struct GcConfig {};

// Reads the `gc` section; throws ConfigError.
GcConfig ReadGcConfig(ConfigReader& gc);

}  // namespace cachewarden
