// ScanData's outputs: /status JSON and metrics.
#include <algorithm>

#include "probes/scan.h"

namespace cachewarden {

double AgeSeconds(SystemTime t, SystemTime now) {
  if (t == SystemTime{}) return 0;
  return std::max(0.0, ToSeconds(now - t));
}

nlohmann::json TotalsToJson(const EntryTotals& t, SystemTime now) {
  return {{"allocated_bytes", t.allocated_bytes},
          {"apparent_bytes", t.apparent_bytes},
          {"inodes", t.inodes},
          {"newest_entry_age_seconds", AgeSeconds(t.newest_mtime, now)},
          {"oldest_entry_age_seconds", AgeSeconds(t.oldest_mtime, now)},
          {"mount_points", t.mount_points}};
}

const ScanGroup* ScanData::FindGroup(std::string_view name) const {
  for (const auto& g : groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

nlohmann::json ScanData::ToJson() const {
  nlohmann::json j;
  j["root"] = root;
  j["duration_seconds"] = ToSeconds(duration);
  j["cpu_seconds"] = ToSeconds(cpu_time);
  j["paced_interval_seconds"] = ToSeconds(paced_gap);
  j["total"] = TotalsToJson(total, scanned_at);
  j["groups"] = nlohmann::json::object();
  for (const auto& g : groups) j["groups"][g.name] = TotalsToJson(g.totals, scanned_at);
  auto& dind = j["dind_entries"] = nlohmann::json::array();
  for (const auto& e : dind_entries) {
    dind.push_back({{"name", e.name},
                    {"kind", e.is_cache ? "cache" : "build"},
                    {"allocated_bytes", e.allocated_bytes},
                    {"apparent_bytes", e.apparent_bytes},
                    {"inodes", e.inodes},
                    {"age_seconds", AgeSeconds(e.newest_mtime, scanned_at)},
                    {"mount_points", e.mount_points}});
  }
  auto& largest_j = j["largest"] = nlohmann::json::array();
  for (const auto& e : largest) {
    nlohmann::json x = TotalsToJson(e.totals, scanned_at);
    x["path"] = e.path;
    x["group"] = e.group;
    largest_j.push_back(std::move(x));
  }
  auto& files = j["largest_files"] = nlohmann::json::array();
  for (const auto& f : largest_files) {
    files.push_back({{"path", f.path},
                     {"allocated_bytes", f.allocated_bytes},
                     {"apparent_bytes", f.apparent_bytes}});
  }
  j["mount_points"] = mount_points;
  // Past probes.scan.max_hard_links multiply-linked files, links count by share: approximate.
  j["approximate"] = total.links_by_share > 0;
  j["links_by_share"] = total.links_by_share;
  j["skipped_total"] = {{"vanished", skipped_total.vanished},
                        {"permission", skipped_total.permission},
                        {"error", skipped_total.error}};
  return j;
}

void ScanData::ExportMetrics(MetricWriter& out) const {
  for (const auto& g : groups) {
    const MetricLabels labels = {{"group", g.name}};
    out.Gauge("cachewarden_cache_bytes",
              "Bytes allocated under the cache root by group (st_blocks*512, as du); groups sum to "
              "the root.",
              static_cast<double>(g.totals.allocated_bytes), labels);
    out.Gauge("cachewarden_cache_apparent_bytes",
              "Apparent size (st_size) under the cache root by group.",
              static_cast<double>(g.totals.apparent_bytes), labels);
    out.Gauge("cachewarden_cache_inodes", "Inodes under the cache root by group.",
              static_cast<double>(g.totals.inodes), labels);
  }
  out.Gauge("cachewarden_scan_duration_seconds", "How long the latest cache scan took.",
            ToSeconds(duration));
  out.Gauge("cachewarden_scan_cpu_seconds",
            "CPU time the latest cache scan used, its walker threads' included.",
            ToSeconds(cpu_time));
  out.Gauge("cachewarden_scan_paced_interval_seconds",
            "The least time from the latest scan's start to the next's, from its CPU time and "
            "probes.scan.cpu_budget (at most max_interval); 0 if not paced. The interval applies "
            "when longer.",
            ToSeconds(paced_gap));
  out.Gauge("cachewarden_scan_links_by_share",
            "Hard links the latest scan counted by share (1/nlink each) because it met more "
            "multiply-linked files than probes.scan.max_hard_links; when above 0 its totals are "
            "approximate.",
            static_cast<double>(total.links_by_share));
  const std::pair<const char*, std::uint64_t> skips[] = {{"vanished", skipped_total.vanished},
                                                         {"permission", skipped_total.permission},
                                                         {"error", skipped_total.error}};
  for (const auto& [reason, n] : skips) {
    out.Counter("cachewarden_scan_skipped_entries_total",
                "Entries the scan skipped: vanished mid-walk, permission denied, other errors.",
                static_cast<double>(n), {{"reason", reason}});
  }
  std::uint64_t count[2] = {0, 0}, bytes[2] = {0, 0};
  double oldest_build_age = 0;
  for (const auto& e : dind_entries) {
    ++count[e.is_cache];
    bytes[e.is_cache] += e.allocated_bytes;
    if (!e.is_cache)
      oldest_build_age = std::max(oldest_build_age, AgeSeconds(e.newest_mtime, scanned_at));
  }
  for (int cache = 1; cache >= 0; --cache) {
    const MetricLabels kind = {{"kind", cache ? "cache" : "build"}};
    out.Gauge("cachewarden_dind_entries",
              "Entries in the dind directory: cache_* (kept by Earthly) or per-build.",
              static_cast<double>(count[cache]), kind);
    out.Gauge("cachewarden_dind_bytes", "Bytes allocated by dind entries of each kind.",
              static_cast<double>(bytes[cache]), kind);
  }
  out.Gauge("cachewarden_dind_oldest_build_entry_age_seconds",
            "Age (since its newest mtime) of the oldest per-build dind entry; 0 if none.",
            oldest_build_age);
}

}  // namespace cachewarden
