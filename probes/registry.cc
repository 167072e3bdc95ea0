#include "probes/registry.h"

#include <chrono>

namespace cachewarden {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// A table row from a probe's own reader and factory, typed on its options struct.
template <typename Options, Options (*kRead)(ConfigReader&),
          std::unique_ptr<Probe> (*kNew)(const Options&)>
constexpr ProbeEntry Row(std::string_view name, bool enabled, Duration interval, Duration timeout) {
  return {name,
          enabled,
          interval,
          timeout,
          [](ConfigReader& section) -> ProbeOptions { return kRead(section); },
          [](const ProbeOptions& options) -> std::unique_ptr<Probe> {
            const auto* own = std::get_if<Options>(&options);
            return own != nullptr ? kNew(*own) : nullptr;
          }};
}

// Add a probe here: one row, its options in ProbeOptions, plus its file pair.
constexpr ProbeEntry kProbes[] = {
    Row<VolumeOptions, &ReadVolumeOptions, &NewVolumeProbe>("volume", true, seconds(15),
                                                            seconds(5)),
    Row<ScanOptions, &ReadScanOptions, &NewScanProbe>("scan", true, minutes(5), minutes(4)),
    // After scan: one-shot modes run probes in this order, and dind reuses scan's per-entry data.
    Row<MountsOptions, &ReadMountsOptions, &NewMountsProbe>("mounts", true, minutes(1), seconds(5)),
    Row<DindOptions, &ReadDindOptions, &NewDindProbe>("dind", true, minutes(1), seconds(30)),
    Row<LogsOptions, &ReadLogsOptions, &NewLogsProbe>("logs", true, seconds(5), seconds(5)),
    Row<LatencyOptions, &ReadLatencyOptions, &NewLatencyProbe>("latency", true, seconds(15),
                                                               seconds(10)),
    Row<DiskstatsOptions, &ReadDiskstatsOptions, &NewDiskstatsProbe>("diskstats", true, seconds(15),
                                                                     seconds(5)),
    // Off by default: most hosts have no BuildKit socket at the default address.
    Row<BuildkitOptions, &ReadBuildkitOptions, &NewBuildkitProbe>("buildkit", false, minutes(1),
                                                                  seconds(30)),
    // Off by default, like buildkit: most hosts serve no BuildKit over TCP.
    Row<ExposureOptions, &ReadExposureOptions, &NewExposureProbe>("exposure", false, minutes(1),
                                                                  seconds(30)),
    // Off by default: it reads other processes' /proc files (environ needs ptrace access), and
    // where the agent does not share buildkitd's pid namespace (a sidecar without
    // shareProcessNamespace) it would only ever say "absent".
    Row<BuildkitdOptions, &ReadBuildkitdOptions, &NewBuildkitdProbe>("buildkitd", false,
                                                                     seconds(15), seconds(10)),
};

}  // namespace

std::span<const ProbeEntry> ProbeTable() { return kProbes; }

std::vector<ProbeSpec> ReadProbeSpecs(ConfigReader& probes) {
  std::vector<ProbeSpec> out;
  for (const auto& entry : ProbeTable()) {
    ConfigReader section = probes.Object(entry.name);
    ProbeSpec spec;
    spec.name = std::string(entry.name);
    // Each probe's errors are its own: the next probe is read even when this one fails.
    section.Collect([&] {
      spec.enabled = section.Bool("enabled", entry.enabled_by_default);
      spec.interval = section.Dur("interval", entry.default_interval,
                                  std::chrono::milliseconds(100), std::chrono::days(7));
      spec.timeout = section.Dur("timeout", std::min(entry.default_timeout, spec.interval),
                                 std::chrono::milliseconds(10), std::chrono::days(1));
      spec.options = entry.read(section);
      section.Finish();
    });
    out.push_back(std::move(spec));
  }
  probes.Finish();
  return out;
}

std::unique_ptr<Probe> MakeProbe(const ProbeSpec& spec) {
  for (const auto& entry : ProbeTable()) {
    if (entry.name == spec.name) return entry.make(spec.options);
  }
  return nullptr;
}

}  // namespace cachewarden
