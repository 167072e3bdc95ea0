#include "probes/held_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string_view>

#include "base/unique_fd.h"
#include "fs/dirfd.h"

namespace cachewarden {
namespace {

constexpr std::string_view kDeleted = " (deleted)";

std::vector<pid_t> Pids(int proc_fd) {
  std::vector<pid_t> pids;
  ForEachDirEntry(proc_fd, [&](const char* name, unsigned char) {
    char* end = nullptr;
    const long pid = std::strtol(name, &end, 10);
    if (end != name && *end == '\0' && pid > 0) pids.push_back(static_cast<pid_t>(pid));
  });
  return pids;
}

std::string Comm(int proc_fd, pid_t pid) {
  UniqueFd fd(::openat(proc_fd, (std::to_string(pid) + "/comm").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  char buf[64];
  const ssize_t n = ::read(fd.get(), buf, sizeof buf);
  std::string comm(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

}  // namespace

DeletedOpenFiles FindDeletedOpenFiles(const std::string& proc_root, std::uint64_t dev,
                                      std::size_t max_fds) {
  DeletedOpenFiles out;
  UniqueFd proc(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc.valid()) return out;
  std::set<ino_t> seen;
  std::vector<HeldFile> found;
  std::size_t fds = 0;
  for (pid_t pid : Pids(proc.get())) {
    if (fds >= max_fds) {
      out.truncated = true;
      break;
    }
    UniqueFd dir(::openat(proc.get(), (std::to_string(pid) + "/fd").c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir.valid()) {
      if (errno == EACCES || errno == EPERM) ++out.processes_unreadable;
      continue;  // ENOENT: it exited
    }
    ++out.processes;
    std::string comm;
    ForEachDirEntry(dir.get(), [&](const char* name, unsigned char) {
      if (fds >= max_fds) {
        out.truncated = true;
        return;
      }
      ++fds;
      char target[4096];
      const ssize_t n = ::readlinkat(dir.get(), name, target, sizeof target);
      if (n <= 0) return;
      std::string_view link(target, static_cast<std::size_t>(n));
      if (!link.ends_with(kDeleted)) return;
      struct stat st {};
      // Through the fd's own link: the open file, which has no other name.
      if (::fstatat(dir.get(), name, &st, 0) != 0) return;
      if (static_cast<std::uint64_t>(st.st_dev) != dev || st.st_nlink != 0 || !S_ISREG(st.st_mode))
        return;
      if (!seen.insert(st.st_ino).second) return;
      const std::uint64_t bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
      out.bytes += bytes;
      ++out.files;
      if (comm.empty()) comm = Comm(proc.get(), pid);
      link.remove_suffix(kDeleted.size());
      found.push_back(HeldFile{pid, comm, std::string(link), bytes});
    });
  }
  const std::size_t keep = std::min(found.size(), DeletedOpenFiles::kMaxHolders);
  std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(keep), found.end(),
                    [](const HeldFile& a, const HeldFile& b) { return a.bytes > b.bytes; });
  found.resize(keep);
  out.largest = std::move(found);
  return out;
}

}  // namespace cachewarden
