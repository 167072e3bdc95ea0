#include "policies/entry_measure.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "policies/dirfd.h"

namespace cachewarden {
namespace {

SystemTime TimeOf(const struct statx& s, GcAgeBy by) {
  const struct statx_timestamp& t =
      by == GcAgeBy::kMtime ? s.stx_mtime : by == GcAgeBy::kCtime ? s.stx_ctime : s.stx_atime;
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec)));
}

struct Walk {
  GcAgeBy age_by;
  std::uint64_t dev, mnt_id;
  std::set<std::pair<std::uint64_t, std::uint64_t>> linked;  // (dev, ino) with nlink > 1
  GcEntry* out;

  // Adds one file's figures; false if it is on another mount.
  bool Count(const struct statx& s) {
    if (DevOf(s) != dev || s.stx_mnt_id != mnt_id) {
      out->has_mount = true;
      return false;
    }
    SystemTime t = TimeOf(s, age_by);
    if (t > out->newest) out->newest = t;
    if (!S_ISDIR(s.stx_mode) && s.stx_nlink > 1 && !linked.insert({DevOf(s), s.stx_ino}).second) {
      return true;  // another name of a file already counted
    }
    out->bytes += s.stx_blocks * 512;
    out->inodes++;
    return true;
  }
};

}  // namespace

void MeasureEntry(int parent_fd, const std::string& name, GcAgeBy age_by,
                  const std::atomic<bool>* cancel, GcEntry* out) {
  *out = GcEntry{};
  out->name = name;
  struct statx parent, self;
  int err = StatxNoFollow(parent_fd, "", &parent);
  if (err == 0) err = StatxNoFollow(parent_fd, name.c_str(), &self);
  if (err != 0) {
    out->error = std::strerror(err);
    return;
  }
  out->dev = DevOf(self);
  out->ino = self.stx_ino;
  out->is_dir = S_ISDIR(self.stx_mode);
  Walk walk{age_by, DevOf(parent), parent.stx_mnt_id, {}, out};
  if (!walk.Count(self) || !out->is_dir) return;

  // Each stack item is a directory to list, named relative to a parent fd
  // that stays open as long as an item refers to it.
  struct Item {
    std::shared_ptr<UniqueFd> parent;
    std::string name;
  };
  auto top = std::make_shared<UniqueFd>(::dup(parent_fd));
  std::vector<Item> stack{{top, name}};
  std::vector<DirName> names;
  while (!stack.empty()) {
    if (cancel != nullptr && cancel->load()) {
      out->error = "cancelled";
      return;
    }
    Item item = std::move(stack.back());
    stack.pop_back();
    auto dir = std::make_shared<UniqueFd>(OpenDirNoFollow(item.parent->get(), item.name.c_str()));
    if (!dir->valid()) {
      if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;  // changed under us
      out->error = std::string("open: ") + std::strerror(errno);
      return;
    }
    item.parent.reset();
    if (int e = ReadDirNames(dir->get(), &names); e != 0) {
      out->error = std::string("read: ") + std::strerror(e);
      return;
    }
    for (const auto& d : names) {
      struct statx s;
      if (StatxNoFollow(dir->get(), d.name.c_str(), &s) != 0) continue;  // vanished
      if (walk.Count(s) && S_ISDIR(s.stx_mode)) stack.push_back({dir, d.name});
    }
  }
}

std::set<std::string> EntriesHeldOpen(const std::string& proc_root,
                                      const std::string& policy_dir) {
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
    if (auto del = entry.find(" (deleted)"); del != std::string::npos && slash == std::string::npos) {
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

}  // namespace cachewarden
