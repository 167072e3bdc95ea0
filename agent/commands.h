#pragma once

#include "agent/cli.h"
#include "agent/config.h"

namespace cachewarden {

// Command handlers; each returns the process exit code.
int RunCommand(const CommandLine& cl);
int CheckCommand(const CommandLine& cl);
int TextfileCommand(const CommandLine& cl);
int ConfigCommand(const CommandLine& cl);
int VersionCommand(const CommandLine& cl);

// Loads the config named by --config (or the environment) with the command line's overrides; on
// error prints it and returns nullopt (exit 78).
std::optional<Config> LoadConfigForCommand(const CommandLine& cl);
ConfigOverrides OverridesFrom(const CommandLine& cl);

}  // namespace cachewarden
