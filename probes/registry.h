#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/config_reader.h"
#include "probes/probe.h"

namespace cachewarden {

// One row of the probe table: the only place a probe is made known.
struct ProbeEntry {
  std::string_view name;
  bool enabled_by_default;
  Duration default_interval;
  Duration default_timeout;
  // Reads the probe's own keys from its `probes.<name>` section (the generic
  // enabled/interval/timeout are already read) and builds it. Throws ConfigError on bad settings.
  std::unique_ptr<Probe> (*make)(ConfigReader& section);
};

// Every probe, in the order they are reported.
std::span<const ProbeEntry> ProbeTable();

// A configured probe.
struct ProbeSpec {
  std::string name;
  bool enabled = true;
  Duration interval{};
  Duration timeout{};            // a run longer than this is reported failed, "timeout"
  std::shared_ptr<Probe> probe;  // null when disabled
};

// Reads `probes.<name>` for every probe in the table; throws ConfigError.
std::vector<ProbeSpec> ReadProbeSpecs(ConfigReader& probes);

}  // namespace cachewarden
