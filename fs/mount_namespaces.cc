#include "fs/mount_namespaces.h"

#include <fcntl.h>
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

void Collect(const MountTable& table, const std::vector<std::string>& dirs, const DindMount& proto,
             std::vector<DindMount>* out) {
  for (const auto& e : table.entries) {
    for (const auto& dir : dirs) {
      if (e.mount_point == dir || !PathIsUnder(e.mount_point, dir)) continue;
      DindMount m = proto;
      m.mount_id = e.id;
      m.mount_point = e.mount_point;
      m.fstype = e.fstype;
      m.source = e.source;
      m.dind_dir = dir;
      std::string_view rest(e.mount_point);
      rest.remove_prefix(dir.size());
      while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
      m.entry_id = std::string(rest.substr(0, rest.find('/')));
      out->push_back(std::move(m));
      break;
    }
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
  std::vector<std::string> dirs;
  for (auto d : dind_dirs) {
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    dirs.push_back(std::move(d));
  }
  const std::string self = proc_root + "/self";
  MountTable own;
  Status s = ReadMountInfo(self + "/mountinfo", &own);
  if (!s.ok()) return s;
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
