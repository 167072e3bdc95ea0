#include "probes/diskstats.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <sstream>

#include "fs/mountinfo.h"
#include "fs/read_file.h"

namespace cachewarden {
namespace {

// /proc/diskstats is about 100 bytes a device.
constexpr std::size_t kMaxDiskstatsBytes = 4 << 20;

double Delta(std::uint64_t a, std::uint64_t b) { return b >= a ? static_cast<double>(b - a) : 0; }

class DiskstatsProbe : public Probe {
 public:
  std::string_view name() const override { return DiskstatsData::kProbe; }
  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    struct stat st {};
    if (stat(ctx.cache_root.c_str(), &st) != 0) return PosixError("stat", ctx.cache_root, errno);
    auto data = std::make_shared<DiskstatsData>();
    data->device =
        ResolveDisk(ctx.sys_root, major(st.st_dev), minor(st.st_dev), &data->no_device_reason);
    if (!data->device.empty()) {
      const std::string path = ctx.proc_root + "/diskstats";
      std::string text;
      Status s = ReadSmallFile(path, &text, kMaxDiskstatsBytes);
      if (!s.ok()) return s;
      auto counters = ParseDiskstats(text, data->device);
      if (!counters) {
        return Status::Error(StatusCode::kMissing, "device " + data->device + " not in diskstats",
                             0, path);
      }
      // The interval on the steady clock: a wall-clock step is no interval.
      const auto now = std::chrono::steady_clock::now();
      if (prev_device_ == data->device) {
        data->rates = ComputeRates(prev_, *counters, ToSeconds(now - prev_at_));
        data->has_rates = true;
      }
      prev_device_ = data->device;
      prev_ = *counters;
      prev_at_ = now;
    }
    *out = std::move(data);
    return Status::Ok();
  }

 private:
  std::string prev_device_;
  DiskCounters prev_;
  std::chrono::steady_clock::time_point prev_at_{};
};

}  // namespace

std::string ResolveDisk(const std::string& sys_root, unsigned maj, unsigned min,
                        std::string* reason) {
  namespace fs = std::filesystem;
  if (maj == 0) {
    *reason =
        "no block device: the cache is on an anonymous device (overlay, tmpfs, network or FUSE "
        "filesystem, btrfs subvolume)";
    return "";
  }
  const fs::path link =
      fs::path(sys_root) / "dev/block" / (std::to_string(maj) + ":" + std::to_string(min));
  std::error_code ec;
  fs::path dev = fs::canonical(link, ec);
  if (ec) {
    *reason = "no block device " + link.string() + ": " + ec.message();
    return "";
  }
  if (fs::exists(dev / "partition", ec)) dev = dev.parent_path();
  return dev.filename().string();
}

std::optional<DiskCounters> ParseDiskstats(const std::string& text, const std::string& device) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    unsigned maj = 0, min = 0;
    std::string name;
    DiskCounters c;
    std::uint64_t merged = 0, sectors = 0, in_flight = 0;  // not used
    if (!(f >> maj >> min >> name) || name != device) continue;
    if (f >> c.reads >> merged >> sectors >> c.read_ms >> c.writes >> merged >> sectors >>
        c.write_ms >> in_flight >> c.io_ms >> c.weighted_ms) {
      return c;
    }
  }
  return std::nullopt;
}

DeviceRates ComputeRates(const DiskCounters& a, const DiskCounters& b, double seconds) {
  DeviceRates r;
  const double reads = Delta(a.reads, b.reads), writes = Delta(a.writes, b.writes);
  if (reads > 0) r.read_await_seconds = Delta(a.read_ms, b.read_ms) / reads / 1000;
  if (writes > 0) r.write_await_seconds = Delta(a.write_ms, b.write_ms) / writes / 1000;
  if (seconds > 0) {
    r.utilization_ratio = std::min(1.0, Delta(a.io_ms, b.io_ms) / 1000 / seconds);
    r.queue_depth = Delta(a.weighted_ms, b.weighted_ms) / 1000 / seconds;
  }
  return r;
}

nlohmann::json DiskstatsData::ToJson() const {
  nlohmann::json j = {{"device", device}};
  if (device.empty()) j["no_device_reason"] = no_device_reason;
  if (has_rates) {
    j["read_await_seconds"] = rates.read_await_seconds;
    j["write_await_seconds"] = rates.write_await_seconds;
    j["io_utilization_ratio"] = rates.utilization_ratio;
    j["io_queue_depth"] = rates.queue_depth;
  }
  return j;
}

void DiskstatsData::ExportMetrics(MetricWriter& out) const {
  if (!has_rates) return;
  const MetricLabels l = {{"device", device}};
  out.Gauge("cachewarden_device_read_await_seconds",
            "Mean time per read completed on the cache's disk since the previous run.",
            rates.read_await_seconds, l);
  out.Gauge("cachewarden_device_write_await_seconds",
            "Mean time per write completed on the cache's disk since the previous run.",
            rates.write_await_seconds, l);
  out.Gauge("cachewarden_device_io_utilization_ratio",
            "Fraction of time the cache's disk was busy since the previous run.",
            rates.utilization_ratio, l);
  out.Gauge("cachewarden_device_io_queue_depth",
            "Mean number of requests in flight on the cache's disk since the previous run.",
            rates.queue_depth, l);
}

DiskstatsOptions ReadDiskstatsOptions(ConfigReader& /*section*/) { return {}; }

std::unique_ptr<Probe> NewDiskstatsProbe(const DiskstatsOptions& /*options*/) {
  return std::make_unique<DiskstatsProbe>();
}

}  // namespace cachewarden
