#include "probes/volume.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cmath>

namespace cachewarden {
namespace {

// Enough for a 6 h window at a 5 s interval; older samples go first.
constexpr std::size_t kMaxGrowthSamples = 4320;

// total - free, 0 when a filesystem reports more free than total.
double Used(std::uint64_t total, std::uint64_t free) {
  return total > free ? static_cast<double>(total - free) : 0;
}

class VolumeProbe : public Probe {
 public:
  explicit VolumeProbe(const VolumeOptions& o)
      : options_(o),
        bytes_(o.growth_window, kMaxGrowthSamples),
        inodes_(o.growth_window, kMaxGrowthSamples) {}
  std::string_view name() const override { return VolumeData::kProbe; }
  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    auto data = std::make_shared<VolumeData>();
    Status s = StatVolume(ctx.cache_root, data.get());
    if (!s.ok()) return s;
    // A different filesystem (remounted, resized) starts a new trend.
    if (data->size_bytes != last_size_ || data->files != last_files_) {
      bytes_.Clear();
      inodes_.Clear();
      last_size_ = data->size_bytes;
      last_files_ = data->files;
    }
    const SystemTime now = ctx.Now();
    bytes_.Add(now, Used(data->size_bytes, data->avail_bytes));
    inodes_.Add(now, Used(data->files, data->files_free));
    data->bytes_growth = bytes_.Estimate(static_cast<double>(data->avail_bytes),
                                         options_.growth_min_samples, options_.growth_min_span);
    data->inodes_growth = inodes_.Estimate(static_cast<double>(data->files_free),
                                           options_.growth_min_samples, options_.growth_min_span);
    if (options_.deleted_open) data->deleted_open = DeletedOpen(ctx, now);
    *out = std::move(data);
    return Status::Ok();
  }

 private:
  // The last look, or a new one when it is older than kDeletedOpenEvery or the clock went back.
  DeletedOpenFiles DeletedOpen(const ProbeContext& ctx, SystemTime now) {
    struct stat root {};
    if (::stat(ctx.cache_root.c_str(), &root) != 0) return {};
    const std::uint64_t dev = static_cast<std::uint64_t>(root.st_dev);
    if (!deleted_open_ || dev != deleted_open_dev_ || now < deleted_open_at_ ||
        now - deleted_open_at_ >= VolumeData::kDeletedOpenEvery) {
      deleted_open_ = FindDeletedOpenFiles(ctx.proc_root, dev, options_.deleted_open_max_fds);
      deleted_open_dev_ = dev;
      deleted_open_at_ = now;
    }
    return *deleted_open_;
  }

  VolumeOptions options_;
  std::optional<DeletedOpenFiles> deleted_open_;
  std::uint64_t deleted_open_dev_ = 0;
  SystemTime deleted_open_at_{};
  GrowthWindow bytes_;
  GrowthWindow inodes_;
  std::uint64_t last_size_ = 0;
  std::uint64_t last_files_ = 0;
};

nlohmann::json GrowthJson(const GrowthEstimate& g) {
  if (!g.valid) return {{"valid", false}, {"samples", g.samples}};
  // JSON has no infinity: null means "not filling".
  nlohmann::json full =
      std::isinf(g.seconds_to_full) ? nlohmann::json(nullptr) : nlohmann::json(g.seconds_to_full);
  return {{"valid", true},
          {"samples", g.samples},
          {"span_seconds", g.span_seconds},
          {"rate_per_second", g.rate_per_second},
          {"predicted_full_seconds", full}};
}

double Ratio(double used, double avail) { return used + avail <= 0 ? 0 : used / (used + avail); }

}  // namespace

nlohmann::json DeletedOpenJson(const DeletedOpenFiles& d) {
  nlohmann::json largest = nlohmann::json::array();
  for (const auto& f : d.largest) {
    largest.push_back({{"pid", f.pid}, {"comm", f.comm}, {"path", f.path}, {"bytes", f.bytes}});
  }
  return {{"bytes", d.bytes},
          {"files", d.files},
          {"largest", std::move(largest)},
          {"processes", d.processes},
          {"processes_unreadable", d.processes_unreadable},
          {"truncated", d.truncated}};
}

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
  return Ratio(Used(size_bytes, free_bytes), static_cast<double>(avail_bytes));
}

double VolumeData::InodesUsedRatio() const {
  return Ratio(Used(files, files_free), static_cast<double>(files_free));
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
          {"inodes_used_ratio", InodesUsedRatio()},
          {"bytes_growth", GrowthJson(bytes_growth)},
          {"inodes_growth", GrowthJson(inodes_growth)},
          {"deleted_open", deleted_open ? DeletedOpenJson(*deleted_open) : nlohmann::json()}};
}

void VolumeData::ExportMetrics(MetricWriter& out) const {
  out.Gauge("cachewarden_volume_size_bytes", "Size of the filesystem that holds the cache.",
            static_cast<double>(size_bytes));
  out.Gauge("cachewarden_volume_free_bytes",
            "Free bytes on the cache filesystem, including those reserved for root.",
            static_cast<double>(free_bytes));
  out.Gauge("cachewarden_volume_avail_bytes",
            "Bytes available to unprivileged users on the cache filesystem.",
            static_cast<double>(avail_bytes));
  out.Gauge("cachewarden_volume_files", "Inodes on the cache filesystem.",
            static_cast<double>(files));
  out.Gauge("cachewarden_volume_files_free", "Free inodes on the cache filesystem.",
            static_cast<double>(files_free));
  out.Gauge("cachewarden_volume_readonly", "1 if the cache filesystem is mounted read-only.",
            readonly ? 1 : 0);
  if (deleted_open) {
    out.Gauge("cachewarden_volume_deleted_open_bytes",
              "Allocated bytes of deleted files that processes still hold open on the cache "
              "filesystem: used, yet under no directory.",
              static_cast<double>(deleted_open->bytes));
    out.Gauge("cachewarden_volume_deleted_open_files",
              "Deleted files still held open on the cache filesystem.",
              static_cast<double>(deleted_open->files));
    out.Gauge("cachewarden_volume_deleted_open_unreadable_processes",
              "Processes whose open files the agent could not read (another user, no ptrace "
              "access): their deleted files are not counted.",
              static_cast<double>(deleted_open->processes_unreadable));
  }
  if (bytes_growth.valid) {
    out.Gauge("cachewarden_volume_fill_rate_bytes_per_second",
              "Least-squares rate at which used bytes grow over the growth window.",
              bytes_growth.rate_per_second);
    out.Gauge("cachewarden_volume_predicted_full_seconds",
              "Seconds until the cache filesystem is full at the fill rate; +Inf if not filling.",
              bytes_growth.seconds_to_full);
  }
  if (inodes_growth.valid) {
    out.Gauge("cachewarden_volume_inodes_fill_rate_per_second",
              "Least-squares rate at which used inodes grow over the growth window.",
              inodes_growth.rate_per_second);
    out.Gauge("cachewarden_volume_inodes_predicted_full_seconds",
              "Seconds until the cache filesystem runs out of inodes; +Inf if not filling.",
              inodes_growth.seconds_to_full);
  }
}

VolumeOptions ReadVolumeOptions(ConfigReader& section) {
  VolumeOptions o;
  o.growth_window =
      section.Dur("growth_window", o.growth_window, std::chrono::minutes(1), std::chrono::days(7));
  o.growth_min_samples = static_cast<std::size_t>(
      section.Int("growth_min_samples", static_cast<std::int64_t>(o.growth_min_samples), 2, 4320));
  o.growth_min_span =
      section.Dur("growth_min_span", o.growth_min_span, std::chrono::seconds(0), o.growth_window);
  o.deleted_open = section.Bool("deleted_open", o.deleted_open);
  o.deleted_open_max_fds = static_cast<std::size_t>(section.Int(
      "deleted_open_max_fds", static_cast<std::int64_t>(o.deleted_open_max_fds), 100, 10000000));
  return o;
}

std::unique_ptr<Probe> NewVolumeProbe(const VolumeOptions& options) {
  return std::make_unique<VolumeProbe>(options);
}

}  // namespace cachewarden
