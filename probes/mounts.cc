#include "probes/mounts.h"

#include <fmt/format.h>
#include <sys/vfs.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string_view>

#include "base/text.h"
#include "probes/log_patterns.h"

namespace cachewarden {
namespace {

constexpr std::size_t kMaxLabelBytes = 4096;

class MountsProbe : public Probe {
 public:
  std::string_view name() const override { return MountsData::kProbe; }
  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    auto data = std::make_shared<MountsData>();
    Status s = CollectMounts(ctx, data.get());
    if (!s.ok()) return s;
    *out = std::move(data);
    return Status::Ok();
  }
};

}  // namespace

std::string ResolveCachePath(const std::string& path, std::string* existing) {
  // `head` is the prefix of `path` tried, shortened a component at a time; the rest of `path` is
  // what does not exist yet.
  std::string_view head = path;
  while (true) {
    std::string tried(head.empty() ? std::string_view("/") : head);
    char real[PATH_MAX];
    if (::realpath(tried.c_str(), real) != nullptr) {
      existing->assign(real);
      std::string_view rest = std::string_view(path).substr(head.size());
      if (rest.empty()) return *existing;
      return *existing == "/" ? std::string(rest) : *existing + std::string(rest);
    }
    std::size_t slash = head.find_last_of('/');
    if (slash == std::string_view::npos || tried == "/") {
      // A char, not the literal "/": GCC 12 at -O3 reports a false -Werror=restrict when a
      // std::string is assigned a one-character literal (GCC bug 105329).
      existing->assign(1, '/');
      return path;
    }
    head = head.substr(0, slash);
  }
}

Status CollectMounts(const ProbeContext& ctx, MountsData* out) {
  out->cache_root = ctx.cache_root;
  std::string existing;
  out->resolved_path = ResolveCachePath(ctx.cache_root, &existing);
  MountTable table;
  std::string file = ctx.proc_root + "/self/mountinfo";
  Status s = ReadMountInfo(file, &table);
  if (!s.ok()) return s;
  out->mount_count = table.entries.size();
  out->malformed_lines = table.malformed_lines;
  const MountEntry* holder = table.Holder(out->resolved_path);
  if (holder == nullptr) {
    return Status::Error(StatusCode::kParse, "no mount at / in mountinfo", 0, file);
  }
  out->holder = *holder;
  struct statfs st {};
  if (::statfs(existing.c_str(), &st) == 0) {
    out->statfs_type = static_cast<std::uint64_t>(st.f_type);
  }
  out->verdict = ClassifyMount(table, *holder, out->statfs_type);
  return Status::Ok();
}

nlohmann::json MountsData::ToJson() const {
  nlohmann::json j = {
      {"cache_root", cache_root},
      {"resolved_path", resolved_path},
      {"kind", MountKindName(verdict.kind)},
      {"is_volume", is_volume()},
      {"readonly", verdict.readonly},
      {"reason", verdict.reason},
      {"statfs_agrees", verdict.statfs_agrees},
      {"mount",
       {{"id", holder.id},
        {"parent", holder.parent},
        {"device", holder.Device()},
        {"root", holder.root},
        {"mount_point", holder.mount_point},
        {"fstype", holder.fstype},
        {"source", holder.source},
        {"options", holder.options}}},
      {"mount_count", mount_count},
      {"malformed_lines", malformed_lines},
  };
  if (statfs_type) j["statfs_type"] = fmt::format("{:#x}", *statfs_type);
  return j;
}

void MountsData::ExportMetrics(MetricWriter& out) const {
  // The only series whose labels hold paths (README, "Metrics"): there is one, for the one mount
  // that holds the cache, so the paths cannot multiply series.
  out.Gauge("cachewarden_mount_info",
            "The mount that holds the cache: kind, fstype, source and mount point; always 1.", 1,
            {{"kind", std::string(MountKindName(verdict.kind))},
             // Raw bytes from mountinfo; the exposition must be UTF-8.
             {"fstype", SanitizeUtf8(holder.fstype, kMaxLabelBytes)},
             {"source", SanitizeUtf8(holder.source, kMaxLabelBytes)},
             {"mount_point", SanitizeUtf8(holder.mount_point, kMaxLabelBytes)}});
  out.Gauge("cachewarden_mount_is_volume",
            "1 if the cache is on a real volume (Docker volume, dedicated device or host bind).",
            is_volume() ? 1 : 0);
  out.Gauge("cachewarden_mount_readonly", "1 if the mount that holds the cache is read-only.",
            verdict.readonly ? 1 : 0);
}

MountsOptions ReadMountsOptions(ConfigReader& /*section*/) { return {}; }

std::unique_ptr<Probe> NewMountsProbe(const MountsOptions& /*options*/) {
  return std::make_unique<MountsProbe>();
}

}  // namespace cachewarden
