#include "fs/mount_namespaces.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <map>

#include "base/text.h"
#include "base/unique_fd.h"
#include "fs/dirfd.h"
#include "fs/mountinfo.h"
#include "fs/read_file.h"

namespace cachewarden {
namespace {

constexpr std::size_t kMaxProcesses = 1 << 20;

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string Comm(const std::string& proc_dir) {
  std::string comm;
  if (!ReadSmallFile(proc_dir + "/comm", &comm, 64).ok()) return "";
  while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\0')) comm.pop_back();
  return comm;
}

// A dind directory as our namespace names it, and where it is in its filesystem.
struct Tree {
  std::string path;
  bool located = false;
  unsigned major = 0, minor = 0;
  std::string fs_path;  // from the root of its filesystem, as mountinfo's root field spells it
};

// The first component of `path` below `dir` ("" when `path` is `dir` or not under it).
std::string EntryBelow(std::string_view path, std::string_view dir) {
  if (!PathIsUnder(path, dir) || NormalizePath(path) == NormalizePath(dir)) return "";
  std::string_view rest = path;
  rest.remove_prefix(dir == "/" ? 0 : dir.size());
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  return std::string(rest.substr(0, rest.find('/')));
}

// `path` (a mount point) relative to `base` (its parent mount's mount point), with a leading "/".
std::string Below(std::string_view path, std::string_view base) {
  if (base != "/") path.remove_prefix(base.size());
  return path.empty() ? "/" : std::string(path);
}

Tree Locate(const MountTable& own, const std::string& dir) {
  Tree t;
  t.path = NormalizePath(dir);
  char resolved[PATH_MAX];
  if (::realpath(t.path.c_str(), resolved) == nullptr) return t;
  const MountEntry* holder = nullptr;
  struct statx sx;
  // By identity where the kernel says (Linux >= 5.8), else by the longest mount point prefix.
  if (StatxNoFollow(AT_FDCWD, resolved, &sx) == 0 && (sx.stx_mask & STATX_MNT_ID) != 0) {
    holder = own.FindById(static_cast<int>(sx.stx_mnt_id));
  }
  if (holder == nullptr) holder = own.Holder(resolved);
  if (holder == nullptr || !PathIsUnder(resolved, holder->mount_point)) return t;
  t.located = true;
  t.major = holder->major;
  t.minor = holder->minor;
  t.fs_path = NormalizePath(JoinPath(holder->root, Below(resolved, holder->mount_point)));
  return t;
}

// Where one mount of a table is, relative to the trees: which tree and entry (tree < 0: none).
struct Place {
  int tree = -1;
  std::string entry;
  bool shows = false;
};

class Classifier {
 public:
  Classifier(const MountTable& table, const std::vector<Tree>& trees)
      : table_(table), trees_(trees) {}

  Place Of(const MountEntry& e, int depth = 0) {
    if (auto it = memo_.find(e.id); it != memo_.end()) return it->second;
    Place p = Compute(e, depth);
    memo_[e.id] = p;
    return p;
  }

 private:
  Place Compute(const MountEntry& e, int depth) {
    for (std::size_t i = 0; i < trees_.size(); ++i) {
      const Tree& t = trees_[i];
      if (std::string id = EntryBelow(e.mount_point, t.path); !id.empty()) {
        return {static_cast<int>(i), id, false};
      }
      if (!t.located || e.major != t.major || e.minor != t.minor) continue;
      if (std::string id = EntryBelow(e.root, t.fs_path); !id.empty()) {
        return {static_cast<int>(i), id, true};
      }
    }
    const MountEntry* parent = e.parent != e.id ? table_.FindById(e.parent) : nullptr;
    // Mount trees are shallow; the cap only guards against a malformed table with a cycle.
    if (parent == nullptr || depth > 64) return {};
    if (Place pp = Of(*parent, depth + 1); pp.tree >= 0) return {pp.tree, pp.entry, false};
    if (!PathIsUnder(e.mount_point, parent->mount_point)) return {};
    for (std::size_t i = 0; i < trees_.size(); ++i) {
      const Tree& t = trees_[i];
      if (!t.located || parent->major != t.major || parent->minor != t.minor) continue;
      std::string on = JoinPath(parent->root, Below(e.mount_point, parent->mount_point));
      if (std::string id = EntryBelow(NormalizePath(on), t.fs_path); !id.empty()) {
        return {static_cast<int>(i), id, false};
      }
    }
    return {};
  }

  const MountTable& table_;
  const std::vector<Tree>& trees_;
  std::map<int, Place> memo_;
};

void Collect(const MountTable& table, const std::vector<Tree>& trees, const DindMount& proto,
             std::vector<DindMount>* out) {
  Classifier classify(table, trees);
  for (const auto& e : table.entries) {
    Place p = classify.Of(e);
    if (p.tree < 0) continue;
    DindMount m = proto;
    m.mount_id = e.id;
    m.mount_point = e.mount_point;
    m.fstype = e.fstype;
    m.source = e.source;
    m.dind_dir = trees[static_cast<std::size_t>(p.tree)].path;
    m.entry_id = p.entry;
    m.shows_entry = p.shows;
    out->push_back(std::move(m));
  }
}

bool IsPid(const char* name, int* pid) {
  std::string_view s(name);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *pid);
  return ec == std::errc() && ptr == s.data() + s.size() && *pid > 0;
}

}  // namespace

std::uint64_t ParseNamespaceLink(const std::string& target) {
  auto open = target.find('[');
  auto close = target.find(']', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) return 0;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(target.data() + open + 1, target.data() + close, v);
  return ec == std::errc() && ptr == target.data() + close ? v : 0;
}

Status ScanDindMounts(const std::string& proc_root, const std::vector<std::string>& dind_dirs,
                      bool other_namespaces, DindMountScan* out) {
  *out = DindMountScan{};
  const std::string self = proc_root + "/self";
  MountTable own;
  Status s = ReadMountInfo(self + "/mountinfo", &own);
  if (!s.ok()) return s;
  std::vector<Tree> dirs;
  for (const auto& d : dind_dirs) dirs.push_back(Locate(own, d));
  DindMount proto;
  proto.own_namespace = true;
  proto.mount_ns = ParseNamespaceLink(ReadLink(self + "/ns/mnt"));
  std::string pid_text = ReadLink(self);
  IsPid(pid_text.c_str(), &proto.pid);
  proto.command = Comm(self);
  Collect(own, dirs, proto, &out->mounts);
  out->namespaces = 1;
  if (!other_namespaces) return Status::Ok();

  UniqueFd proc(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc.valid()) return Status::Ok();
  std::map<std::uint64_t, int> lowest_pid;  // namespace -> pid
  std::size_t seen = 0;
  // A read error part way leaves the processes seen so far: as many namespaces as can be told.
  (void)ForEachDirEntry(proc.get(), [&](const char* name, unsigned char) {
    int pid = 0;
    if (!IsPid(name, &pid) || ++seen > kMaxProcesses) return;
    auto ns = ParseNamespaceLink(ReadLink(proc_root + "/" + name + "/ns/mnt"));
    if (ns == 0 || ns == proto.mount_ns) return;
    out->other_processes_visible = true;
    auto [it, fresh] = lowest_pid.emplace(ns, pid);
    if (!fresh) it->second = std::min(it->second, pid);
  });
  for (const auto& [ns, pid] : lowest_pid) {
    std::string dir = proc_root + "/" + std::to_string(pid);
    MountTable table;
    if (!ReadMountInfo(dir + "/mountinfo", &table).ok()) {
      ++out->unreadable;  // the process exited, or we may not look
      continue;
    }
    ++out->namespaces;
    DindMount other;
    other.mount_ns = ns;
    other.pid = pid;
    other.command = Comm(dir);
    Collect(table, dirs, other, &out->mounts);
  }
  return Status::Ok();
}

}  // namespace cachewarden
