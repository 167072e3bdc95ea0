#include "probes/volume.h"

#include <sys/statvfs.h>

#include <cerrno>

namespace cachewarden {
namespace {

class VolumeProbe : public Probe {
 public:
  std::string_view name() const override { return VolumeData::kProbe; }
  Status Collect(const ProbeContext& ctx,
                 std::shared_ptr<const ProbeData>* out) override {
    auto data = std::make_shared<VolumeData>();
    Status s = StatVolume(ctx.cache_root, data.get());
    if (!s.ok()) return s;
    *out = std::move(data);
    return Status::Ok();
  }
};

double Ratio(double used, double avail) {
  return used + avail <= 0 ? 0 : used / (used + avail);
}

}  // namespace

Status StatVolume(const std::string& path, VolumeData* out) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) {
    int err = errno;
    return PosixError("statvfs", path, err);
  }
  const std::uint64_t frsize = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
  out->path = path;
  out->size_bytes = static_cast<std::uint64_t>(st.f_blocks) * frsize;
  out->free_bytes = static_cast<std::uint64_t>(st.f_bfree) * frsize;
  out->avail_bytes = static_cast<std::uint64_t>(st.f_bavail) * frsize;
  out->files = st.f_files;
  out->files_free = st.f_ffree;
  out->readonly = (st.f_flag & ST_RDONLY) != 0;
  return Status::Ok();
}

double VolumeData::UsedRatio() const {
  return Ratio(static_cast<double>(size_bytes - free_bytes),
               static_cast<double>(avail_bytes));
}

double VolumeData::InodesUsedRatio() const {
  return Ratio(static_cast<double>(files - files_free),
               static_cast<double>(files_free));
}

nlohmann::json VolumeData::ToJson() const {
  return {{"path", path},
          {"size_bytes", size_bytes},
          {"free_bytes", free_bytes},
          {"avail_bytes", avail_bytes},
          {"files", files},
          {"files_free", files_free},
          {"readonly", readonly},
          {"used_ratio", UsedRatio()},
          {"inodes_used_ratio", InodesUsedRatio()}};
}

void VolumeData::ExportMetrics(MetricWriter& out) const {
  out.Gauge("cachewarden_volume_size_bytes",
            "Size of the filesystem that holds the cache.",
            static_cast<double>(size_bytes));
  out.Gauge("cachewarden_volume_free_bytes",
            "Free bytes on the cache filesystem, including those reserved for root.",
            static_cast<double>(free_bytes));
  out.Gauge("cachewarden_volume_avail_bytes",
            "Bytes available to unprivileged users on the cache filesystem.",
            static_cast<double>(avail_bytes));
  out.Gauge("cachewarden_volume_files", "Inodes on the cache filesystem.",
            static_cast<double>(files));
  out.Gauge("cachewarden_volume_files_free",
            "Free inodes on the cache filesystem.", static_cast<double>(files_free));
  out.Gauge("cachewarden_volume_readonly",
            "1 if the cache filesystem is mounted read-only.", readonly ? 1 : 0);
}

std::unique_ptr<Probe> NewVolumeProbe(ConfigReader& /*section*/) {
  return std::make_unique<VolumeProbe>();
}

}  // namespace cachewarden
