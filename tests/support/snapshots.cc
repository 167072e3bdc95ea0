#include "tests/support/snapshots.h"

#include <memory>

#include "probes/volume.h"

namespace cachewarden::testing {

Snapshot VolumeAt(double used_percent, const Clock& clock) {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  auto v = std::make_shared<VolumeData>();
  v->path = "/tmp/earthly";
  v->size_bytes = 1000 * kMiB;
  v->avail_bytes = v->free_bytes =
      static_cast<std::uint64_t>((100 - used_percent) * 10 * static_cast<double>(kMiB));
  v->files = 1000;
  v->files_free = 900;
  Snapshot s;
  s.Put<VolumeData>(v, clock.Now());
  return s;
}

}  // namespace cachewarden::testing
