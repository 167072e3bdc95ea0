#include "tests/support/mounts.h"

#include <fmt/format.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <vector>

#include "base/text.h"
#include "fs/mountinfo.h"
#include "tests/support/process.h"

namespace cachewarden::testing {
namespace {
bool g_private = false;

}  // namespace

bool IsRoot() { return geteuid() == 0; }

bool EnterPrivateMountNamespace() {
  if (!IsRoot()) return false;
  if (unshare(CLONE_NEWNS) != 0) return false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  g_private = true;
  return true;
}

bool InPrivateMountNamespace() { return g_private; }

std::string Mount(const std::string& type, const std::string& source, const std::string& target,
                  const std::string& options) {
  if (mount(source.c_str(), target.c_str(), type.c_str(), 0,
            options.empty() ? nullptr : options.c_str()) != 0) {
    return fmt::format("mount -t {} {} {} -o {}: {}", type, source, target, options,
                       std::strerror(errno));
  }
  return "";
}

std::string MountTmpfs(const std::string& target, const std::string& size) {
  return Mount("tmpfs", "tmpfs", target, "size=" + size);
}

std::string MountExt4Loop(const std::string& image, const std::string& target, int mib) {
  auto r = RunProcess({"truncate", "-s", fmt::format("{}M", mib), image});
  if (r.exit_code != 0) return "truncate failed: " + r.err;
  r = RunProcess({"mkfs.ext4", "-q", "-F", image});
  if (r.exit_code != 0) return "mkfs.ext4 failed: " + r.err;
  r = RunProcess({"mount", "-o", "loop", image, target});
  if (r.exit_code != 0) return "mount -o loop failed: " + r.err;
  return "";
}

std::string MountOverlay(const std::string& dir, std::string* mountinfo_line) {
  for (auto d : {"lower", "upper", "work", "merged"}) {
    std::filesystem::create_directories(dir + "/" + d);
  }
  std::string err =
      Mount("overlay", "overlay", dir + "/merged",
            "lowerdir=" + dir + "/lower,upperdir=" + dir + "/upper,workdir=" + dir + "/work");
  if (!err.empty()) return err;
  std::istringstream in(ReadFile("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    auto t = ParseMountInfo(line);
    if (!t.entries.empty() && t.entries[0].mount_point == dir + "/merged") {
      *mountinfo_line = line;
      return "";
    }
  }
  return "overlay at " + dir + "/merged not in /proc/self/mountinfo";
}

void UnmountUnder(const std::string& path) {
  // Stacked mounts need one umount each: repeat until none is left.
  for (int round = 0; round < 16; ++round) {
    MountTable table;
    if (!ReadMountInfo("/proc/self/mountinfo", &table).ok()) return;
    std::vector<std::string> points;
    for (const auto& m : table.entries) {
      if (PathIsUnder(m.mount_point, path)) points.push_back(m.mount_point);
    }
    if (points.empty()) return;
    std::sort(points.begin(), points.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& p : points) umount2(p.c_str(), MNT_DETACH);
  }
}

}  // namespace cachewarden::testing
