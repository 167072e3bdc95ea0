#include "probes/dind.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "base/unique_fd.h"
#include "fs/dirfd.h"
#include "fs/walker.h"
#include "probes/mounts.h"
#include "probes/scan.h"

namespace cachewarden {
namespace {

Status Cancelled() { return Status::Error(StatusCode::kCancelled, "dind run cancelled"); }

class DindProbe : public Probe {
 public:
  explicit DindProbe(DindOptions o) : options_(std::move(o)) {}
  std::string_view name() const override { return DindData::kProbe; }

  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    auto data = std::make_shared<DindData>();
    data->leftover_age = options_.leftover_age;
    std::vector<std::string> dirs = options_.dirs;
    if (dirs.empty()) dirs.push_back(ctx.cache_root + "/dind");
    std::vector<std::string> match;
    for (const auto& d : dirs) {
      std::string existing;
      data->dirs.push_back(ResolveCachePath(d, &existing));
      match.push_back(data->dirs.back());
    }
    match.insert(match.end(), options_.other_paths.begin(), options_.other_paths.end());
    // Partial sizes would make leftovers look smaller or absent.
    if (!MeasureEntries(ctx, data.get())) return Cancelled();

    DindMountScan scan;
    Status s = ScanDindMounts(ctx.proc_root, match, options_.other_namespaces, &scan);
    if (!s.ok()) return s;
    data->namespaces = scan.namespaces;
    data->other_processes_visible = scan.other_processes_visible;
    if (ctx.Cancelled()) return Cancelled();
    TrackMounts(ctx, std::move(scan.mounts), data.get());
    *out = std::move(data);
    return Status::Ok();
  }

 private:
  // The scan probe's entries when its latest walk is fresh and covers the one default dind
  // directory, else a walk of each entry here, relative to the dind directory (an entry that is a
  // mount point is counted as one, as the scan does). False if cancelled.
  bool MeasureEntries(const ProbeContext& ctx, DindData* data) {
    const SystemTime now = ctx.Now();
    auto scan = ctx.previous ? ctx.previous->Get<ScanData>() : nullptr;
    if (scan != nullptr && options_.dirs.empty() && scan->root == ctx.cache_root &&
        now - scan->scanned_at <= options_.scan_max_age) {
      data->sizes_from = "scan";
      for (const auto& s : scan->dind_entries) {
        AddEntry(
            data, now,
            {data->dirs[0], s.name, s.is_cache, s.allocated_bytes, s.newest_mtime, true, false});
      }
      return true;
    }
    data->sizes_from = "walk";
    WalkOptions walk;
    walk.workers.threads = 1;
    walk.cancel = ctx.cancel;
    for (const auto& dir : data->dirs) {
      // Absent (no dind build yet) or not a directory: no entries.
      UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) continue;
      std::vector<DirName> names;
      (void)ReadDirNames(fd.get(), &names);  // a read error part way: the entries seen so far
      std::sort(names.begin(), names.end());
      for (const auto& [name, type] : names) {
        EntryTotals t;
        Status s = MeasureEntry(fd.get(), name, walk, &t);
        if (ctx.Cancelled() || s.code() == StatusCode::kCancelled) return false;
        if (!s.ok()) continue;  // gone meanwhile
        AddEntry(
            data, now,
            {dir, name, IsDindCacheEntry(name), t.allocated_bytes, t.newest_mtime, true, false});
      }
    }
    return true;
  }

  void AddEntry(DindData* data, SystemTime now, DindEntryUsage e) {
    // The epoch: nothing was seen (the entry is a mount point): maybe in use.
    e.leftover = !e.is_cache && e.newest_mtime != SystemTime{} &&
                 now - e.newest_mtime >= options_.leftover_age;
    if (e.leftover) {
      ++data->leftover_entries;
      data->leftover_bytes += e.bytes;
    }
    data->entries.push_back(std::move(e));
  }

  void TrackMounts(const ProbeContext& ctx, std::vector<DindMount> mounts, DindData* data) {
    const SystemTime now = ctx.Now();
    std::map<std::pair<std::uint64_t, int>, SystemTime> still;
    for (auto& m : mounts) {
      // A view of an entry elsewhere (a bind mount of it) is not a mount under the dind directory:
      // it does not make the entry's removal fail.
      if (m.shows_entry) continue;
      auto key = std::make_pair(m.mount_ns, m.mount_id);
      auto it = first_seen_.find(key);
      SystemTime first = it == first_seen_.end() ? now : it->second;
      still[key] = first;
      DindMountSeen seen;
      seen.seen_for = now - first;
      const DindEntryUsage* entry = nullptr;
      for (const auto& e : data->entries) {
        if (e.name == m.entry_id) entry = &e;
      }
      bool entry_gone = m.own_namespace && entry == nullptr;
      seen.stale = (entry != nullptr && entry->leftover) || entry_gone ||
                   seen.seen_for >= options_.leftover_age;
      seen.mount = std::move(m);
      data->mounts.push_back(std::move(seen));
    }
    first_seen_ = std::move(still);
  }

  DindOptions options_;
  std::map<std::pair<std::uint64_t, int>, SystemTime> first_seen_;
};

}  // namespace

std::size_t DindData::MountCount(bool own) const {
  return static_cast<std::size_t>(
      std::count_if(mounts.begin(), mounts.end(),
                    [own](const DindMountSeen& m) { return m.mount.own_namespace == own; }));
}

nlohmann::json DindData::ToJson() const {
  nlohmann::json j = {{"dirs", dirs},
                      {"leftover_age_seconds", ToSeconds(leftover_age)},
                      {"sizes_from", sizes_from},
                      {"leftover_entries", leftover_entries},
                      {"leftover_bytes", leftover_bytes},
                      {"namespaces", namespaces},
                      {"other_processes_visible", other_processes_visible}};
  auto& es = j["entries"] = nlohmann::json::array();
  for (const auto& e : entries) {
    es.push_back({{"dir", e.dir},
                  {"name", e.name},
                  {"is_cache", e.is_cache},
                  {"bytes", e.bytes},
                  {"newest_mtime", ToUnixSeconds(e.newest_mtime)},
                  {"measured_fully", e.measured_fully},
                  {"leftover", e.leftover}});
  }
  auto& ms = j["mounts"] = nlohmann::json::array();
  for (const auto& s : mounts) {
    const auto& m = s.mount;
    ms.push_back({{"scope", m.own_namespace ? "own" : "other"},
                  {"mount_namespace", m.mount_ns},
                  {"pid", m.pid},
                  {"command", m.command},
                  {"mount_point", m.mount_point},
                  {"fstype", m.fstype},
                  {"source", m.source},
                  {"dind_dir", m.dind_dir},
                  {"entry_id", m.entry_id},
                  {"seen_seconds", ToSeconds(s.seen_for)},
                  {"stale", s.stale}});
  }
  return j;
}

void DindData::ExportMetrics(MetricWriter& out) const {
  out.Gauge("cachewarden_dind_leftover_entries",
            "dind entries not named cache_* and untouched for at least the leftover age.",
            static_cast<double>(leftover_entries));
  out.Gauge("cachewarden_dind_leftover_bytes", "Bytes held by dind leftover entries.",
            static_cast<double>(leftover_bytes));
  for (bool own : {true, false}) {
    out.Gauge("cachewarden_dind_mounts",
              "Mounts under the dind directories, in our mount namespace (own) or others.",
              static_cast<double>(MountCount(own)), {{"scope", own ? "own" : "other"}});
  }
  std::size_t stale = 0;
  for (const auto& m : mounts) stale += m.stale ? 1 : 0;
  out.Gauge("cachewarden_dind_stale_mounts",
            "Mounts under the dind directories that outlived their build (their entry is a "
            "leftover or gone, or they were seen for at least the leftover age).",
            static_cast<double>(stale));
}

DindOptions ReadDindOptions(ConfigReader& section) {
  DindOptions o;
  o.dirs = section.StringList("dirs", {});
  o.other_paths = section.StringList(
      "other_namespace_paths",
      {"/tmp/earthly/dind", "/var/earthly/dind", "/tmp/earthbuild/dind", "/var/earthbuild/dind"});
  for (const auto* list : {&o.dirs, &o.other_paths}) {
    for (const auto& p : *list) {
      if (p.empty() || p[0] != '/') {
        section.Fail(list == &o.dirs ? "dirs" : "other_namespace_paths",
                     "expected absolute paths, got \"" + p + "\"");
      }
    }
  }
  o.leftover_age =
      section.Dur("leftover_age", std::chrono::hours(1), Duration(0), std::chrono::days(365));
  o.other_namespaces = section.Bool("other_namespaces", true);
  o.scan_max_age =
      section.Dur("scan_max_age", std::chrono::minutes(15), Duration(0), std::chrono::days(1));
  return o;
}

std::unique_ptr<Probe> NewDindProbe(const DindOptions& options) {
  return std::make_unique<DindProbe>(options);
}

}  // namespace cachewarden
