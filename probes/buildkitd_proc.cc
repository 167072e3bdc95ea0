#include "probes/buildkitd_proc.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "base/text.h"
#include "fs/read_file.h"

namespace cachewarden {
namespace {

template <typename T>
std::optional<T> Number(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  return v;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// The value after `key` at the start of a line of `text`, trimmed.
std::optional<std::string_view> LineValue(std::string_view text, std::string_view key) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.starts_with(key)) return Trim(line.substr(key.size()));
    at = end + 1;
  }
  return std::nullopt;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (true) {
    std::size_t end = s.find(sep, at);
    out.push_back(s.substr(at, end == std::string_view::npos ? end : end - at));
    if (end == std::string_view::npos) return out;
    at = end + 1;
  }
}

// A small file's first line, trimmed; nullopt if it cannot be read.
std::optional<std::string> ReadValue(const std::string& file, std::string* error) {
  std::string text;
  Status s = ReadSmallFile(file, &text, 4096);
  if (!s.ok()) {
    if (error->empty()) *error = s.ToString();
    return std::nullopt;
  }
  return std::string(Trim(text.substr(0, text.find('\n'))));
}

// The variables the entrypoint reads besides the shown ones: never hinted at.
constexpr std::string_view kAlsoRead[] = {
    "BUILDKIT_DEBUG",
    "BUILDKIT_BASE_IMAGE",
    "BUILDKIT_PPROF_ENABLED",
    "BUILDKIT_SESSION_HISTORY_DURATION",
    "BUILDKIT_SESSION_TIMEOUT",
    "BUILDKIT_OOM_SCORE_ADJ",
    "BUILDKIT_LOCAL_REGISTRY_LISTEN_PORT",
    "BUILDKIT_ROOT_DIR",
    "EARTHLY_CACHE_VERSION",
    "EARTHLY_GIT_HASH",
    "EARTHLY_GIT_CONFIG",
    "EARTHLY_ADDITIONAL_BUILDKIT_CONFIG",
    "CACHE_SETTINGS",
    "CACHE_DURATION_SETTINGS",
};

bool HoldsAllWords(std::string_view name, std::string_view shown) {
  auto words = Split(name, '_');
  std::set<std::string_view> have(words.begin(), words.end());
  for (auto w : Split(shown, '_')) {
    if (!have.contains(w)) return false;
  }
  return true;
}

// The shown name `name` most resembles, or "".
std::string Resembles(std::string_view name) {
  if (name.size() > 128) return "";  // bounds the edit distance's cost
  std::string best;
  std::size_t best_distance = 0;
  for (auto shown : kShownEnvironment) {
    std::size_t d = EditDistance(name, shown);
    if (d > 2 && !HoldsAllWords(name, shown)) continue;
    if (best.empty() || d < best_distance) {
      best = std::string(shown);
      best_distance = d;
    }
  }
  return best;
}

}  // namespace

std::optional<std::uint64_t> ParseStartTicks(std::string_view stat) {
  auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  auto fields = Split(Trim(stat.substr(close + 1)), ' ');
  // fields[0] is field 3 (state): field 22 is fields[19].
  if (fields.size() < 20) return std::nullopt;
  return Number<std::uint64_t>(fields[19]);
}

std::optional<std::int64_t> ParseBootTime(std::string_view proc_stat) {
  auto v = LineValue(proc_stat, "btime ");
  return v ? Number<std::int64_t>(*v) : std::nullopt;
}

std::optional<std::uint64_t> ParseVmRssBytes(std::string_view status) {
  auto v = LineValue(status, "VmRSS:");
  if (!v) return std::nullopt;
  auto kb = Number<std::uint64_t>(v->substr(0, v->find(' ')));
  if (!kb || *kb > (std::uint64_t{1} << 50)) return std::nullopt;
  return *kb * 1024;
}

std::optional<int> ParseInnermostPid(std::string_view status) {
  auto v = LineValue(status, "NSpid:");
  if (!v) return std::nullopt;
  auto last = v->find_last_of(" \t");
  return Number<int>(last == std::string_view::npos ? *v : v->substr(last + 1));
}

CgroupRef ParseProcCgroup(std::string_view text) {
  CgroupRef v2;
  for (auto line : Split(text, '\n')) {
    auto first = line.find(':');
    if (first == std::string_view::npos) continue;
    auto second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    auto hierarchy = line.substr(0, first);
    auto controllers = line.substr(first + 1, second - first - 1);
    std::string path(line.substr(second + 1));
    if (path.empty() || path[0] != '/') continue;
    if (hierarchy == "0" && controllers.empty()) {
      v2 = {2, path};
      continue;
    }
    for (auto c : Split(controllers, ',')) {
      if (c == "memory") return {1, path};
    }
  }
  return v2;
}

std::optional<std::uint64_t> ParseKeyedCounter(std::string_view text, std::string_view key) {
  for (auto line : Split(text, '\n')) {
    auto words = Split(Trim(line), ' ');
    if (words.size() == 2 && words[0] == key) return Number<std::uint64_t>(words[1]);
  }
  return std::nullopt;
}

CgroupMemory ReadCgroupMemory(const std::string& cgroup_root, const CgroupRef& ref) {
  CgroupMemory m;
  if (ref.version == 0) {
    m.error = "no memory cgroup in /proc/<pid>/cgroup";
    return m;
  }
  for (auto part : Split(ref.path, '/')) {
    if (part == "..") {
      m.error = "cgroup " + ref.path + " is outside the agent's cgroup namespace";
      return m;
    }
  }
  const std::string path = ref.path == "/" ? "" : ref.path;
  m.dir = ref.version == 1 ? cgroup_root + "/memory" + path : cgroup_root + path;
  const bool v1 = ref.version == 1;
  if (auto limit = ReadValue(m.dir + (v1 ? "/memory.limit_in_bytes" : "/memory.max"), &m.error)) {
    // v1 says "no limit" with a page-rounded LONG_MAX.
    auto bytes = Number<std::uint64_t>(*limit);
    if (bytes && *bytes < (std::uint64_t{1} << 62)) m.limit_bytes = bytes;
    if (!bytes && *limit != "max" && m.error.empty()) m.error = "unreadable limit " + *limit;
  }
  if (auto usage =
          ReadValue(m.dir + (v1 ? "/memory.usage_in_bytes" : "/memory.current"), &m.error)) {
    m.usage_bytes = Number<std::uint64_t>(*usage);
  }
  std::string events;
  Status s = ReadSmallFile(m.dir + (v1 ? "/memory.oom_control" : "/memory.events"), &events, 4096);
  if (s.ok()) {
    m.oom_kills = ParseKeyedCounter(events, "oom_kill");
  } else if (m.error.empty()) {
    m.error = s.ToString();
  }
  return m;
}

EnvironmentView ViewEnvironment(std::string_view environ) {
  EnvironmentView view;
  std::vector<std::pair<std::string_view, std::string_view>> vars;
  std::size_t seen = 0;
  for (auto entry : Split(environ, '\0')) {
    if (++seen > 4096) break;  // bounds the work on a huge environment
    auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    vars.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  for (auto shown : kShownEnvironment) {
    for (const auto& [name, value] : vars) {
      if (name == shown) view.shown.emplace_back(std::string(name), SanitizeUtf8(value, 256));
    }
  }
  for (const auto& var : vars) {
    const std::string_view name = var.first;
    if (!name.starts_with("BUILDKIT_") && !name.starts_with("CACHE_") &&
        !name.starts_with("EARTHLY_")) {
      continue;
    }
    auto is = [&](std::string_view known) { return known == name; };
    if (std::any_of(std::begin(kShownEnvironment), std::end(kShownEnvironment), is) ||
        std::any_of(std::begin(kAlsoRead), std::end(kAlsoRead), is)) {
      continue;
    }
    std::string like = Resembles(name);
    if (!like.empty()) view.hints.push_back({SanitizeUtf8(name, 128), like});
  }
  return view;
}

}  // namespace cachewarden
