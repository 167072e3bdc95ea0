#pragma once

#include "base/clock.h"
#include "probes/snapshot.h"

namespace cachewarden::testing {

// A snapshot holding only a volume sample of /tmp/earthly, 1000 MiB, that is `used_percent` full
// (df's arithmetic: no reserved blocks, so used / size), taken at clock.Now().
Snapshot VolumeAt(double used_percent, const Clock& clock);

}  // namespace cachewarden::testing
