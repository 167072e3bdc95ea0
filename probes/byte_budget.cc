#include "probes/byte_budget.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/units.h"
#include "probes/buildkit.h"
#include "probes/scan.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

struct Row {
  std::string part;
  std::uint64_t bytes;
  std::string note;
};

std::uint64_t Minus(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }

std::string Holders(const DeletedOpenFiles& d) {
  std::string note = fmt::format("{} file{}", d.files, d.files == 1 ? "" : "s");
  if (!d.largest.empty()) {
    const HeldFile& f = d.largest.front();
    note += fmt::format("; largest {} held by pid {} ({}): {}", HumanBytes(f.bytes), f.pid, f.comm,
                        f.path);
  }
  if (d.processes_unreadable > 0) {
    note += fmt::format("; {} processes not readable", d.processes_unreadable);
  }
  if (d.truncated) note += "; at least (fd bound reached)";
  return note;
}

// The budget's parts, in the order the table shows them.
std::vector<Row> Rows(const ByteBudget& b) {
  std::vector<Row> rows;
  if (b.buildkit_counted) {
    rows.push_back({"BuildKit's own count", b.buildkit_bytes,
                    fmt::format("DiskUsage, {} records", b.buildkit_records)});
  }
  if (b.scanned) {
    if (b.unaccounted) {
      rows.push_back({"buildkit/, not counted by BuildKit", *b.unaccounted,
                      "metadata databases, snapshots BuildKit lost track of"});
    } else {
      rows.push_back({"buildkit/", b.buildkit_dir, "BuildKit not asked or not answering"});
    }
    for (const auto& [name, bytes] : b.groups) rows.push_back({name + "/", bytes, ""});
  }
  if (b.deleted_open) {
    rows.push_back({"deleted, still open", b.deleted_open->bytes, Holders(*b.deleted_open)});
  }
  if (b.scanned) {
    rows.push_back({"outside the cache directory", b.outside,
                    "the filesystem's other directories and its own metadata"});
  }
  return rows;
}

}  // namespace

std::uint64_t ByteBudget::Unmanaged() const {
  std::uint64_t n = unaccounted.value_or(0);
  for (const auto& g : groups) n += g.second;
  if (deleted_open) n += deleted_open->bytes;
  return n;
}

std::optional<ByteBudget> ComputeByteBudget(const Snapshot& s, SystemTime now) {
  auto vol = s.Get<VolumeData>();
  if (vol == nullptr) return std::nullopt;
  ByteBudget b;
  b.path = vol->path;
  b.volume_size = vol->size_bytes;
  b.volume_used = Minus(vol->size_bytes, vol->free_bytes);
  b.deleted_open = vol->deleted_open;
  if (auto scan = s.Get<ScanData>(); scan != nullptr && now >= scan->scanned_at &&
                                     now - scan->scanned_at <= ByteBudget::kMaxScanAge) {
    b.scanned = true;
    b.cache_dir = scan->total.allocated_bytes;
    for (const auto& g : scan->groups) {
      if (g.name == ByteBudget::kBuildkitGroup) {
        b.buildkit_dir = g.totals.allocated_bytes;
      } else {
        b.groups.emplace_back(g.name, g.totals.allocated_bytes);
      }
    }
    b.outside = Minus(b.volume_used, b.cache_dir + (b.deleted_open ? b.deleted_open->bytes : 0));
  }
  const ProbeResult* r = s.Find(BuildkitData::kProbe);
  if (auto bk = s.Get<BuildkitData>(); bk != nullptr && r != nullptr && r->status.ok()) {
    b.buildkit_counted = true;
    b.buildkit_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(bk->usage.total_bytes, 0));
    b.buildkit_records = bk->usage.records;
    if (b.scanned) b.unaccounted = Minus(b.buildkit_dir, b.buildkit_bytes);
  }
  return b;
}

std::string ByteBudgetText(const ByteBudget& b) {
  std::string out = fmt::format("  byte budget of {} ({} volume, {} used):\n", b.path,
                                HumanBytes(b.volume_size), HumanBytes(b.volume_used));
  for (const Row& row : Rows(b)) {
    out += fmt::format("    {:<36} {:>10}{}{}\n", row.part, HumanBytes(row.bytes),
                       row.note.empty() ? "" : "  ", row.note);
  }
  if (!b.scanned) out += "    (no scan in the last hour: what fills the cache is not known yet)\n";
  return out;
}

nlohmann::json ByteBudgetJson(const ByteBudget& b) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& row : Rows(b)) {
    rows.push_back({{"part", row.part}, {"bytes", row.bytes}, {"note", row.note}});
  }
  return {{"path", b.path},
          {"volume_size_bytes", b.volume_size},
          {"volume_used_bytes", b.volume_used},
          {"scanned", b.scanned},
          {"rows", std::move(rows)},
          {"unaccounted_bytes", b.unaccounted ? nlohmann::json(*b.unaccounted) : nlohmann::json()},
          {"deleted_open", b.deleted_open ? DeletedOpenJson(*b.deleted_open) : nlohmann::json()}};
}

}  // namespace cachewarden
