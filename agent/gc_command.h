#pragma once

#include <string>

#include "actions/gc_run.h"
#include "agent/cli.h"

namespace cachewarden {

// `cachewarden gc [--dry-run] [--policy NAME] [--json]`: collects the volume figures once (the
// policies' watermarks; no other probe runs: no latency writes, no walk of the whole cache), then
// runs each policy (or the one named) once, in config order, exactly as the daemon would, each
// measuring its own entries; prints each plan (entry, size, age, decision and why) and then what
// happened. Exit 0; 1 if a policy failed or an entry could not
// be deleted; 64 for an unknown policy; 78 for a bad config.
int GcCommand(const CommandLine& cl);

// The text report of one run, for people.
std::string GcRunText(const GcRunResult& run);

}  // namespace cachewarden
