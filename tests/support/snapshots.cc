#include "tests/support/snapshots.h"

#include <memory>

#include "probes/mount_classifier.h"
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

std::shared_ptr<MountsData> MountsFrom(const std::string& mountinfo,
                                       std::optional<std::uint64_t> f_type) {
  MountTable table = ParseMountInfo(mountinfo);
  auto m = std::make_shared<MountsData>();
  m->cache_root = m->resolved_path = "/tmp/earthly";
  const MountEntry* holder = table.Holder(m->resolved_path);
  if (holder == nullptr) return nullptr;
  m->holder = *holder;
  m->statfs_type = f_type;
  m->mount_count = table.entries.size();
  m->malformed_lines = table.malformed_lines;
  m->verdict = ClassifyMount(table, *holder, f_type);
  return m;
}

}  // namespace cachewarden::testing
