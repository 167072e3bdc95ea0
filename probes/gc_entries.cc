#include "probes/gc_entries.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

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
  EntryTotals totals;
  Status s = MeasureEntry(parent_fd, name, options.walk, &totals);
  if (!s.ok()) {
    out->error = s.ToString();
    return;
  }
  out->bytes = totals.allocated_bytes;
  out->inodes = totals.inodes;
  out->newest = age_by == GcAgeBy::kMtime   ? totals.newest_mtime
                : age_by == GcAgeBy::kCtime ? totals.newest_ctime
                                            : totals.newest_atime;
  out->has_mount = totals.has_mount_inside();
  if (const std::uint64_t unseen = totals.skipped.permission + totals.skipped.error; unseen > 0) {
    out->incomplete =
        fmt::format("{} entries not seen ({})", unseen, std::strerror(totals.skipped.first_error));
  }
}

std::set<std::string> EntriesHeldOpen(const std::string& proc_root, const std::string& policy_dir) {
  std::set<std::string> held;
  std::string prefix = policy_dir + "/";
  auto note = [&](const std::string& link) {
    std::string target(4096, '\0');
    ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
    if (n <= 0) return;
    target.resize(static_cast<std::size_t>(n));
    if (target.compare(0, prefix.size(), prefix) != 0) return;
    std::string rest = target.substr(prefix.size());
    auto slash = rest.find('/');
    std::string entry = rest.substr(0, slash);
    if (auto del = entry.find(" (deleted)");
        del != std::string::npos && slash == std::string::npos) {
      entry.resize(del);
    }
    if (!entry.empty()) held.insert(entry);
  };
  UniqueFd proc(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc.valid()) return held;
  std::vector<DirName> pids, fds;
  if (ReadDirNames(proc.get(), &pids) != 0) return held;
  for (const auto& p : pids) {
    if (p.name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string base = proc_root + "/" + p.name;
    note(base + "/cwd");
    UniqueFd fd_dir(::open((base + "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd_dir.valid() || ReadDirNames(fd_dir.get(), &fds) != 0) continue;
    for (const auto& f : fds) note(base + "/fd/" + f.name);
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
    if (m.own_namespace) {
      e.own = true;
    } else if (e.foreign.empty()) {
      e.foreign = fmt::format("{} ({}, pid {} {})", m.mount_point, m.fstype, m.pid, m.command);
    }
  }
  return Status::Ok();
}

}  // namespace cachewarden
