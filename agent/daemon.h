#pragma once

#include <optional>
#include <string>

#include "agent/config.h"

namespace cachewarden {

struct DaemonOptions {
  std::optional<std::string> config_file;  // re-read on SIGHUP
  ConfigOverrides overrides;               // re-applied on SIGHUP
  std::optional<std::string> port_file;    // the bound port is written here
};

// `cachewarden run`: the libuv loop on the calling thread, one timer per probe, the HTTP endpoint,
// SIGTERM/SIGINT (stop) and SIGHUP (reload). Returns the process exit code: 0 after a clean stop.
int RunDaemon(Config config, const DaemonOptions& options);

}  // namespace cachewarden
