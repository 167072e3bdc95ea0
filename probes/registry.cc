#include "probes/registry.h"

#include <chrono>

#include "probes/dind.h"
#include "probes/diskstats.h"
#include "probes/latency.h"
#include "probes/logs.h"
#include "probes/mounts.h"
#include "probes/scan.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// Add a probe here: one row, plus its file pair.
constexpr ProbeEntry kProbes[] = {
    {"volume", true, seconds(15), seconds(5), &NewVolumeProbe},
    {"scan", true, minutes(5), minutes(4), &NewScanProbe},
    // After scan: one-shot modes run probes in this order, and dind reuses scan's per-entry data.
    {"mounts", true, minutes(1), seconds(5), &NewMountsProbe},
    {"dind", true, minutes(1), seconds(30), &NewDindProbe},
    {"logs", true, seconds(5), seconds(5), &NewLogsProbe},
    {"latency", true, seconds(15), seconds(10), &NewLatencyProbe},
    {"diskstats", true, seconds(15), seconds(5), &NewDiskstatsProbe},
};

}  // namespace

std::span<const ProbeEntry> ProbeTable() { return kProbes; }

std::vector<ProbeSpec> ReadProbeSpecs(ConfigReader& probes) {
  std::vector<ProbeSpec> out;
  for (const auto& entry : ProbeTable()) {
    ConfigReader section = probes.Object(entry.name);
    ProbeSpec spec;
    spec.name = std::string(entry.name);
    spec.enabled = section.Bool("enabled", entry.enabled_by_default);
    spec.interval = section.Dur("interval", entry.default_interval, std::chrono::milliseconds(100),
                                std::chrono::days(7));
    spec.timeout = section.Dur("timeout", std::min(entry.default_timeout, spec.interval),
                               std::chrono::milliseconds(10), std::chrono::days(1));
    auto probe = entry.make(section);
    section.Finish();
    if (spec.enabled) spec.probe = std::move(probe);
    out.push_back(std::move(spec));
  }
  probes.Finish();
  return out;
}

}  // namespace cachewarden
