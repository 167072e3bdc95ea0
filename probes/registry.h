#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/clock.h"
#include "base/config_reader.h"
#include "probes/buildkit.h"
#include "probes/buildkitd.h"
#include "probes/dind.h"
#include "probes/diskstats.h"
#include "probes/exposure.h"
#include "probes/latency.h"
#include "probes/logs.h"
#include "probes/mounts.h"
#include "probes/probe.h"
#include "probes/scan.h"
#include "probes/volume.h"

namespace cachewarden {

// One probe's own settings, as plain data: one alternative per probe of the table. Two equal values
// build probes that behave the same, which is what lets a reload keep an unchanged probe's
// instance.
using ProbeOptions = std::variant<VolumeOptions, ScanOptions, MountsOptions, DindOptions,
                                  LogsOptions, LatencyOptions, DiskstatsOptions, BuildkitOptions,
                                  ExposureOptions, BuildkitdOptions>;

// One row of the probe table: the only place a probe is made known.
struct ProbeEntry {
  std::string_view name;
  bool enabled_by_default;
  Duration default_interval;
  Duration default_timeout;
  // Reads the probe's own keys from its `probes.<name>` section (the generic
  // enabled/interval/timeout are already read). Builds nothing. Throws ConfigError on bad settings.
  ProbeOptions (*read)(ConfigReader& section);
  // A new instance with fresh state from options `read` returned (null for another probe's
  // options). Does no I/O and never throws (bar std::bad_alloc): the agent calls it when it starts
  // and on a reload, past config checking.
  std::unique_ptr<Probe> (*make)(const ProbeOptions& options);
};

// Every probe, in the order they are reported.
std::span<const ProbeEntry> ProbeTable();

// A configured probe: plain data, no live object. The agent builds the instance (MakeProbe) and
// decides on a reload whether the one it has carries on.
struct ProbeSpec {
  std::string name;
  bool enabled = true;
  Duration interval{};
  Duration timeout{};  // a run longer than this is reported failed, "timeout"
  ProbeOptions options;

  bool operator==(const ProbeSpec&) const = default;
};

// Reads `probes.<name>` for every probe in the table (disabled ones too, so that their sections are
// checked); throws ConfigError.
std::vector<ProbeSpec> ReadProbeSpecs(ConfigReader& probes);

// A new instance of the table's probe `spec.name`, with fresh state; null for a name the table does
// not have or options of another probe.
std::unique_ptr<Probe> MakeProbe(const ProbeSpec& spec);

}  // namespace cachewarden
