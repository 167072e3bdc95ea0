#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "probes/mounts.h"
#include "probes/snapshot.h"

namespace cachewarden::testing {

// A snapshot holding only a volume sample of /tmp/earthly, 1000 MiB, that is `used_percent` full
// (df's arithmetic: no reserved blocks, so used / size), taken at clock.Now().
Snapshot VolumeAt(double used_percent, const Clock& clock);

// The mounts probe's data for the cache at /tmp/earthly in `mountinfo` (a mountinfo file's text,
// say a fixture's), classified as CollectMounts does, with `f_type` standing in for statfs so that
// the disk under the test decides nothing. Null when the table has no mount at /.
std::shared_ptr<MountsData> MountsFrom(const std::string& mountinfo,
                                       std::optional<std::uint64_t> f_type = std::nullopt);

}  // namespace cachewarden::testing
