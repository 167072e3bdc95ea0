#include "probes/gc_entries.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "base/text.h"
#include "base/unique_fd.h"
#include "fs/dirfd.h"
#include "fs/mount_namespaces.h"
#include "fs/walker.h"

namespace cachewarden {

void MeasureGcEntry(int parent_fd, const std::string& name, const EntryMeasureOptions& options,
                    GcEntry* out) {
  const GcAgeBy age_by = options.age_by;
  *out = GcEntry{};
  out->name = name;
  struct statx self;
  if (int err = StatxNoFollow(parent_fd, name.c_str(), &self); err != 0) {
    out->error = std::strerror(err);
    return;
  }
  out->dev = DevOf(self);
  out->ino = self.stx_ino;
  out->is_dir = S_ISDIR(self.stx_mode);
  struct statx parent;
  if (int err = StatxNoFollow(parent_fd, "", &parent); err != 0) {
    out->error = std::strerror(err);
    return;
  }
  out->mount_point = out->is_dir && (DevOf(self) != DevOf(parent) ||
                                     ((self.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
                                      (self.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) ||
                                     ((self.stx_mask & parent.stx_mask & STATX_MNT_ID) != 0 &&
                                      self.stx_mnt_id != parent.stx_mnt_id));
  EntryTotals totals;
  Status s;
  if (out->mount_point) {
    // Measured by what the mount shows (its own root is the filesystem of reference): its age
    // decides whether it is stale; nothing of it is counted as the cache's.
    UniqueFd fd(OpenDirNoFollow(parent_fd, name.c_str()));
    if (!fd.valid()) {
      out->error = std::strerror(errno);
      return;
    }
    // The walker takes the mount's root for a mount point; its children are on its filesystem.
    std::vector<DirName> names;
    if (int err = ReadDirNames(fd.get(), &names); err != 0) {
      out->error = std::strerror(err);
      return;
    }
    struct statx root;
    if (int err = StatxNoFollow(fd.get(), "", &root); err != 0) {
      out->error = std::strerror(err);
      return;
    }
    auto time_of = [](const struct statx_timestamp& t) {
      return SystemTime(std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec));
    };
    totals.newest_mtime = totals.oldest_mtime = time_of(root.stx_mtime);
    totals.newest_ctime = time_of(root.stx_ctime);
    totals.newest_atime = time_of(root.stx_atime);
    Walker walker(options.walk);
    for (const auto& d : names) {
      EntryTotals child;
      s = walker.Measure(fd.get(), d.name, &child);
      if (!s.ok() && s.code() != StatusCode::kMissing) break;
      if (s.ok()) totals.Add(child);
      s = Status::Ok();
    }
    totals.allocated_bytes = 0;
    totals.inodes = 0;
    totals.mount_points = 0;
  } else {
    s = MeasureEntry(parent_fd, name, options.walk, &totals);
  }
  if (!s.ok()) {
    out->error = s.ToString();
    return;
  }
  out->bytes = totals.allocated_bytes;
  out->shared_bytes = std::min(totals.shared_bytes, totals.allocated_bytes);
  out->inodes = totals.inodes;
  out->newest = age_by == GcAgeBy::kMtime   ? totals.newest_mtime
                : age_by == GcAgeBy::kCtime ? totals.newest_ctime
                                            : totals.newest_atime;
  out->newest_ctime = totals.newest_ctime;
  out->has_mount = totals.has_mount_inside();
  if (const std::uint64_t unseen = totals.skipped.permission + totals.skipped.error; unseen > 0) {
    out->incomplete =
        fmt::format("{} entries not seen ({})", unseen, std::strerror(totals.skipped.first_error));
  }
}

namespace {

// A st_dev in DevOf's encoding (fs/dirfd.h), as GcEntry::dev and EntryIds hold it.
std::uint64_t DevKey(dev_t d) {
  return (static_cast<std::uint64_t>(major(d)) << 32) | static_cast<std::uint64_t>(minor(d));
}

// The entry of `ids` that the directory open as `dir` is or lies in, following ".." (in the
// namespace of the process that holds it) up to the top; "" if none.
std::string EntryAbove(UniqueFd dir, const EntryIds& ids) {
  // Deeper than any real tree; bounds the walk if ".." never reaches a fixed point.
  constexpr int kMaxDepth = 4096;
  for (int depth = 0; depth < kMaxDepth && dir.valid(); ++depth) {
    struct stat st;
    if (::fstat(dir.get(), &st) != 0) return "";
    auto it = ids.find({DevKey(st.st_dev), st.st_ino});
    if (it != ids.end()) return it->second;
    UniqueFd up(::openat(dir.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat ust;
    if (!up.valid() || ::fstat(up.get(), &ust) != 0) return "";
    if (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino) return "";  // the top
    dir = std::move(up);
  }
  return "";
}

std::string ReadLinkText(const std::string& link) {
  std::string target(4096, '\0');
  ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
  if (n <= 0) return "";
  target.resize(static_cast<std::size_t>(n));
  return target;
}

}  // namespace

std::set<std::string> EntriesHeldOpen(const std::string& proc_root, const std::string& policy_dir,
                                      const EntryIds& ids, std::uint64_t dev) {
  std::set<std::string> held;
  const std::string prefix = JoinPath(NormalizePath(policy_dir), "");
  auto by_path = [&](const std::string& target) {
    if (!PathIsUnder(target, prefix) || target.size() <= prefix.size() + 1) return;
    std::string rest = target.substr(prefix == "/" ? 1 : prefix.size() + 1);
    auto slash = rest.find('/');
    std::string entry = rest.substr(0, slash);
    if (auto del = entry.find(" (deleted)");
        del != std::string::npos && slash == std::string::npos) {
      entry.resize(del);
    }
    if (!entry.empty()) held.insert(entry);
  };
  // One link (cwd or fd) of process directory `base`: by identity, then by path.
  auto note = [&](const std::string& base, const std::string& link, bool is_cwd) {
    struct stat st;
    if (::stat(link.c_str(), &st) != 0) return;
    if (auto it = ids.find({DevKey(st.st_dev), st.st_ino}); it != ids.end()) {
      held.insert(it->second);
      return;
    }
    if (!is_cwd && DevKey(st.st_dev) != dev) return;  // elsewhere: cannot be inside an entry
    const std::string target = ReadLinkText(link);
    std::string name;
    if (S_ISDIR(st.st_mode)) {
      name = EntryAbove(UniqueFd(::open(link.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)), ids);
    } else if (!target.empty() && target[0] == '/') {
      // The file's directory as the process names it, resolved in its own root and mounts.
      std::string dir = target.substr(0, target.rfind('/'));
      name = EntryAbove(
          UniqueFd(::open(JoinPath(base + "/root", dir).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
          ids);
    }
    if (!name.empty()) {
      held.insert(name);
    } else if (!target.empty()) {
      by_path(target);
    }
  };
  UniqueFd proc(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc.valid()) return held;
  std::vector<DirName> pids, fds;
  if (ReadDirNames(proc.get(), &pids) != 0) return held;
  for (const auto& p : pids) {
    if (p.name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string base = JoinPath(proc_root, p.name);
    note(base, base + "/cwd", true);
    UniqueFd fd_dir(::open((base + "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd_dir.valid() || ReadDirNames(fd_dir.get(), &fds) != 0) continue;
    for (const auto& f : fds) note(base, base + "/fd/" + f.name, false);
  }
  return held;
}

Status MountsUnderEntries(const std::string& proc_root, const std::vector<std::string>& policy_dirs,
                          std::map<std::string, EntryMounts>* out, int* unreadable) {
  out->clear();
  DindMountScan scan;
  Status s = ScanDindMounts(proc_root, policy_dirs, /*other_namespaces=*/true, &scan);
  if (!s.ok()) return s;
  if (unreadable != nullptr) *unreadable = scan.unreadable;
  for (const DindMount& m : scan.mounts) {
    if (m.entry_id.empty()) continue;
    EntryMounts& e = (*out)[m.entry_id];
    if (m.own_namespace && !m.shows_entry &&
        NormalizePath(m.mount_point) == JoinPath(m.dind_dir, m.entry_id)) {
      e.own_at_entry = true;
    }
    if (m.shows_entry) {
      if (e.elsewhere.empty()) {
        e.elsewhere = fmt::format("{} (pid {} {})", m.mount_point, m.pid, m.command);
      }
    } else if (m.own_namespace) {
      e.own = true;
    } else if (e.foreign.empty()) {
      e.foreign = fmt::format("{} ({}, pid {} {})", m.mount_point, m.fstype, m.pid, m.command);
    }
  }
  return Status::Ok();
}

}  // namespace cachewarden
