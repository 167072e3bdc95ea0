#include "probes/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/unique_fd.h"
#include "fs/dirfd.h"

namespace cachewarden {
namespace {

bool Larger(const ScanEntry& a, const ScanEntry& b) {
  return a.totals.allocated_bytes > b.totals.allocated_bytes;
}

// One scan run's state.
class ScanRun {
 public:
  ScanRun(const ScanOptions& o, const std::atomic<bool>* cancel, ScanData* out)
      : options_(o), walker_(MakeWalkOptions(o, cancel)), out_(out) {}

  Status Run(const std::string& root) {
    UniqueFd root_fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd.valid()) return PosixError("open", root, errno);
    for (const auto& [name, dir] : options_.groups) out_->groups.push_back({name, {}});
    out_->groups.push_back({"other", {}});
    // The root directory's own inode: `du -sx root` counts it.
    struct stat st {};
    if (fstat(root_fd.get(), &st) != 0) return PosixError("fstat", root, errno);
    Group("other").Add(InodeOnly(st));

    std::vector<DirName> names;
    if (int err = ReadDirNames(root_fd.get(), &names); err != 0) {
      return PosixError("read", root, err);
    }
    // In name order: which entry counts a hard link shared between two must not depend on the
    // directory's order.
    std::sort(names.begin(), names.end());
    Status s;
    for (const auto& [name, type] : names) {
      const std::string* group = GroupOf(name);
      if (group == nullptr) {
        s = MeasureUnit(root_fd.get(), name, "", "other");
      } else {
        s = MeasureGroupDir(root_fd.get(), name, *group);
      }
      if (!s.ok()) return s;
    }
    for (const auto& g : out_->groups) out_->total.Add(g.totals);
    out_->skipped_total = out_->total.skipped;
    std::sort(out_->dind_entries.begin(), out_->dind_entries.end(),
              [](const DindEntry& a, const DindEntry& b) {
                return a.allocated_bytes > b.allocated_bytes;
              });
    out_->largest_files = walker_.LargestFiles();
    out_->mount_points = walker_.MountPointPaths();
    return Status::Ok();
  }

  Duration WalkerCpuTime() const { return walker_.CpuTime(); }

 private:
  static WalkOptions MakeWalkOptions(const ScanOptions& o, const std::atomic<bool>* cancel) {
    WalkOptions w;
    w.workers = o.workers;
    w.top_files = o.top;
    w.max_hard_links = o.max_hard_links;
    w.cancel = cancel;
    return w;
  }

  static EntryTotals InodeOnly(const struct stat& st) {
    EntryTotals t;
    t.inodes = 1;
    t.allocated_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
    t.apparent_bytes = static_cast<std::uint64_t>(st.st_size);
    t.newest_mtime = t.oldest_mtime = ToSystemTime(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    t.newest_ctime = ToSystemTime(st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    t.newest_atime = ToSystemTime(st.st_atim.tv_sec, st.st_atim.tv_nsec);
    return t;
  }

  const std::string* GroupOf(const std::string& name) const {
    for (const auto& [group, dir] : options_.groups) {
      if (dir == name) return &group;
    }
    return nullptr;
  }

  EntryTotals& Group(const std::string& name) {
    for (auto& g : out_->groups) {
      if (g.name == name) return g.totals;
    }
    return out_->groups.back().totals;  // "other"
  }

  // Measures parent/name as one unit of `group` and offers it to the top list.
  Status MeasureUnit(int parent_fd, const std::string& name, const std::string& prefix,
                     const std::string& group, EntryTotals* totals = nullptr) {
    EntryTotals t;
    Status s = walker_.Measure(parent_fd, name, &t, prefix);
    if (!s.ok()) {
      if (s.code() == StatusCode::kCancelled) return s;
      // Vanished or unreadable between listing and measuring: a skip.
      if (s.code() == StatusCode::kMissing)
        ++t.skipped.vanished;
      else if (s.code() == StatusCode::kPermission)
        ++t.skipped.permission;
      else
        ++t.skipped.error;
    }
    Group(group).Add(t);
    OfferLargest({prefix.empty() ? name : prefix + "/" + name, group, t});
    if (totals != nullptr) *totals = t;
    return Status::Ok();
  }

  // A group's directory: its own inode, then each child as a unit.
  Status MeasureGroupDir(int root_fd, const std::string& name, const std::string& group) {
    UniqueFd fd(openat(root_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {
    }, root_st{};
    if (fd.get() < 0 || fstat(fd.get(), &st) != 0 || fstat(root_fd, &root_st) != 0 ||
        st.st_dev != root_st.st_dev) {
      // Not a directory, a symlink, vanished or another filesystem: the walker's rules decide how
      // it counts.
      return MeasureUnit(root_fd, name, "", group);
    }
    Group(group).Add(InodeOnly(st));
    std::vector<DirName> names;
    if (ReadDirNames(fd.get(), &names) != 0) {
      EntryTotals skip;
      ++skip.skipped.error;
      Group(group).Add(skip);
      return Status::Ok();
    }
    std::sort(names.begin(), names.end());
    const bool dind = group == options_.dind_group;
    for (const auto& [child, type] : names) {
      EntryTotals t;
      Status s = MeasureUnit(fd.get(), child, name, group, &t);
      if (!s.ok()) return s;
      if (dind && t.inodes + t.mount_points > 0) {
        out_->dind_entries.push_back({child, IsDindCacheEntry(child), t.allocated_bytes,
                                      t.apparent_bytes, t.inodes, t.newest_mtime, t.mount_points});
      }
    }
    return Status::Ok();
  }

  void OfferLargest(ScanEntry e) {
    auto& top = out_->largest;
    if (options_.top == 0) return;
    if (top.size() >= options_.top && !Larger(e, top.back())) return;
    top.insert(std::upper_bound(top.begin(), top.end(), e, Larger), std::move(e));
    if (top.size() > options_.top) top.pop_back();
  }

  const ScanOptions& options_;
  Walker walker_;
  ScanData* out_;
};

class ScanProbe : public Probe {
 public:
  explicit ScanProbe(ScanOptions o) : options_(std::move(o)) {}
  std::string_view name() const override { return ScanData::kProbe; }
  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    auto data = std::make_shared<ScanData>();
    Status s = ScanCache(ctx.cache_root, options_, ctx.cancel, *ctx.clock, data.get());
    if (!s.ok()) return s;
    skipped_.Add(data->skipped_total);
    data->skipped_total = skipped_;
    data->paced_gap = PacedGap(data->cpu_time, options_.cpu_budget, options_.max_interval);
    *out = std::move(data);
    return Status::Ok();
  }

 private:
  ScanOptions options_;
  SkipCounts skipped_;  // cumulative: cachewarden_scan_skipped_entries_total
};

}  // namespace

bool IsDindCacheEntry(std::string_view name) { return name.starts_with("cache_"); }

Status ScanCache(const std::string& root, const ScanOptions& options,
                 const std::atomic<bool>* cancel, const Clock& clock, ScanData* out) {
  const SystemTime start = clock.Now();
  const Duration cpu_start = ThreadCpuTime();
  out->root = root;
  ScanRun run(options, cancel, out);
  Status s = run.Run(root);
  if (!s.ok()) return s;
  out->scanned_at = clock.Now();
  out->duration = out->scanned_at - start;
  out->cpu_time = ThreadCpuTime() - cpu_start + run.WalkerCpuTime();
  return Status::Ok();
}

Duration PacedGap(Duration cpu, double budget_percent, Duration max) {
  if (budget_percent <= 0) return {};
  const double gap_ns = static_cast<double>(cpu.count()) * 100.0 / budget_percent;
  if (gap_ns >= static_cast<double>(max.count())) return max;
  return Duration(static_cast<Duration::rep>(gap_ns));
}

ScanOptions ReadScanOptions(ConfigReader& section) {
  ScanOptions o;
  if (section.Has("groups")) {
    o.groups = section.StringMap("groups");
    for (const auto& [name, dir] : o.groups) {
      if (name == "other") section.Fail("groups", "\"other\" is reserved for the rest");
      if (dir.empty() || dir == "." || dir == ".." || dir.find('/') != std::string::npos) {
        section.Fail("groups/" + name, "expected a directory name directly under the root");
      }
    }
  }
  o.dind_group = section.String("dind_group", o.dind_group);
  if (!o.dind_group.empty() && std::none_of(o.groups.begin(), o.groups.end(), [&](const auto& g) {
        return g.first == o.dind_group;
      })) {
    section.Fail("dind_group", "names no group in \"groups\"");
  }
  o.top = static_cast<std::size_t>(section.Int("top", 20, 0, 10'000));
  o.workers.threads = static_cast<int>(section.Int("threads", 2, 1, 64));
  o.workers.low_priority = section.Bool("low_priority", true);
  o.workers.nice = static_cast<int>(section.Int("nice", 10, 0, 19));
  o.max_hard_links = static_cast<std::size_t>(
      section.Int("max_hard_links", static_cast<std::int64_t>(o.max_hard_links), 0, 100'000'000));
  o.cpu_budget = section.Number("cpu_budget", o.cpu_budget, 0, 100);
  o.max_interval =
      section.Dur("max_interval", o.max_interval, std::chrono::seconds(1), std::chrono::days(1));
  return o;
}

std::unique_ptr<Probe> NewScanProbe(const ScanOptions& options) {
  return std::make_unique<ScanProbe>(options);
}

}  // namespace cachewarden
