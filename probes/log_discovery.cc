#include "probes/log_discovery.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>
#include <utility>

#include "probes/exposure.h"

namespace cachewarden {
namespace {

// Pod directories read when the pod's identity is not known; a node holds far fewer.
constexpr std::size_t kMaxPodDirs = 4096;

// The names in `dir`, or none when it cannot be read.
std::vector<std::string> Names(const std::string& dir, std::size_t limit) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = readdir(d)) {
    const std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
    if (names.size() >= limit) break;
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The current log of a container directory: kubelet's `<N>.log` with the highest N (its restart
// count); rotated files (`0.log.20240101-120000`, `.gz`) are not it.
std::optional<std::string> CurrentContainerLog(const std::string& dir) {
  std::optional<std::pair<long, std::string>> best;
  for (const std::string& name : Names(dir, 1024)) {
    if (!name.ends_with(".log")) continue;
    long n = 0;
    const char* end = name.data() + name.size() - 4;
    auto [p, ec] = std::from_chars(name.data(), end, n);
    if (ec != std::errc() || p != end) continue;
    const std::string path = fmt::format("{}/{}", dir, name);
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!best || n > best->first) best.emplace(n, path);
  }
  if (!best) return std::nullopt;
  return best->second;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void FindPodLogs(const LogDiscoveryOptions& o, std::vector<DiscoveredLog>* out,
                 std::vector<std::string>* looked) {
  const bool identified = !o.pod_namespace.empty() && !o.pod_name.empty() && !o.pod_uid.empty();
  std::vector<std::string> pods;
  if (identified) {
    pods.push_back(fmt::format("{}_{}_{}", o.pod_namespace, o.pod_name, o.pod_uid));
    looked->push_back(fmt::format("{}/{}/{}/", o.pods_dir, pods.back(), o.container));
  } else {
    pods = Names(o.pods_dir, kMaxPodDirs);
    looked->push_back(fmt::format("{}/*/{}/", o.pods_dir, o.container));
  }
  for (const std::string& pod : pods) {
    if (out->size() >= kMaxDiscoveredLogs) return;
    const std::string dir = fmt::format("{}/{}/{}", o.pods_dir, pod, o.container);
    if (!IsDirectory(dir)) continue;
    if (auto log = CurrentContainerLog(dir)) out->push_back({*log, "pod", dir});
  }
}

void FindProcessLogs(const LogDiscoveryOptions& o, const std::string& proc_root,
                     std::vector<DiscoveredLog>* out, std::vector<std::string>* looked) {
  looked->push_back(fmt::format("the stdout and stderr of a process named {}", o.process));
  std::string error;
  const int pid = FindProcess(proc_root, o.process, &error);
  if (pid <= 0) return;
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const auto& [fd, stream] : {std::pair{1, "stdout"}, std::pair{2, "stderr"}}) {
    if (out->size() >= kMaxDiscoveredLogs) return;
    const std::string path = fmt::format("{}/{}/fd/{}", proc_root, pid, fd);
    struct stat st {};
    // A pipe (containerd's shim, journald) or a terminal is not a file the agent can follow.
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!seen.insert({st.st_dev, st.st_ino}).second) continue;
    char target[4096];
    const ssize_t n = readlink(path.c_str(), target, sizeof(target) - 1);
    const std::string file = n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "?";
    out->push_back({path, "process", fmt::format("pid {} {} -> {}", pid, stream, file)});
  }
}

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

std::vector<DiscoveredLog> DiscoverLogs(const LogDiscoveryOptions& options,
                                        const std::string& proc_root, std::string* looked) {
  std::vector<DiscoveredLog> found;
  std::vector<std::string> places;
  if (options.enabled) {
    FindPodLogs(options, &found, &places);
    FindProcessLogs(options, proc_root, &found, &places);
  }
  *looked = places.empty() ? "discovery is off (probes.logs.discover.enabled)"
                           : fmt::format("looked in {}", fmt::join(places, " and "));
  return found;
}

LogDiscoveryOptions ReadLogDiscoveryOptions(ConfigReader& section) {
  LogDiscoveryOptions o;
  ConfigReader d = section.Object("discover");
  o.enabled = d.Bool("enabled", true);
  o.pods_dir = d.String("pods_dir", o.pods_dir);
  if (o.pods_dir.empty() || o.pods_dir[0] != '/') {
    d.Fail("pods_dir", fmt::format("expected an absolute path, got \"{}\"", o.pods_dir));
  }
  o.container = d.String("container", o.container);
  if (o.container.empty() || o.container.find('/') != std::string::npos) {
    d.Fail("container", "expected a container name (no '/')");
  }
  ConfigReader pod = d.Object("pod");
  o.pod_namespace = pod.String("namespace", EnvOr("POD_NAMESPACE"));
  o.pod_name = pod.String("name", EnvOr("POD_NAME"));
  o.pod_uid = pod.String("uid", EnvOr("POD_UID"));
  for (const auto& [key, value] :
       {std::pair{"namespace", &o.pod_namespace}, {"name", &o.pod_name}, {"uid", &o.pod_uid}}) {
    if (value->find('/') != std::string::npos || value->find('_') != std::string::npos) {
      // kubelet joins the three with '_'; Kubernetes names and uids never hold one.
      pod.Fail(key, fmt::format("expected a Kubernetes name or uid (no '/' or '_'), got \"{}\"",
                                *value));
    }
  }
  pod.Finish();
  o.process = d.String("process", o.process);
  if (o.process.empty() || o.process.size() > 15 || o.process.find('/') != std::string::npos) {
    d.Fail("process", "expected a process name of 1 to 15 bytes (/proc/<pid>/comm), no '/'");
  }
  d.Finish();
  return o;
}

}  // namespace cachewarden
