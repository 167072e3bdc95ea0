#include "probes/buildkitd.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <set>
#include <tuple>

#include "base/unique_fd.h"
#include "fs/dirfd.h"
#include "fs/mount_namespaces.h"
#include "fs/read_file.h"

namespace cachewarden {
namespace {

constexpr std::size_t kMaxProcesses = 1 << 20;  // pids looked at per run

bool IsPid(const char* name, int* pid) {
  if (*name == '\0') return false;
  long v = 0;
  for (const char* p = name; *p; ++p) {
    if (*p < '0' || *p > '9' || v > INT_MAX / 10) return false;
    v = v * 10 + (*p - '0');
  }
  *pid = static_cast<int>(v);
  return v > 0;
}

std::string ReadText(const std::string& file, std::size_t max) {
  std::string text;
  if (!ReadSmallFile(file, &text, max).ok()) return "";
  return text;
}

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

// Who a process is: the same pid with another start time is another process.
using Identity = std::tuple<std::uint64_t, int, std::uint64_t>;  // pid ns, pid, start ticks

struct Found {
  BuildkitdProcess process;
  Identity identity;
};

class BuildkitdProbe : public Probe {
 public:
  explicit BuildkitdProbe(BuildkitdOptions o) : options_(std::move(o)) {}
  std::string_view name() const override { return BuildkitdData::kProbe; }

  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    std::string stat;
    Status s = ReadSmallFile(ctx.proc_root + "/stat", &stat, 1 << 20);
    if (!s.ok()) return s;
    auto boot = ParseBootTime(stat);
    if (!boot) {
      return Status::Error(StatusCode::kInvalid, "no btime in " + ctx.proc_root + "/stat");
    }
    UniqueFd proc(::open(ctx.proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!proc.valid()) return PosixError("open", ctx.proc_root, errno);
    std::vector<Found> found;
    std::size_t seen = 0;
    // A read error part way leaves the processes seen so far.
    (void)ForEachDirEntry(proc.get(), [&](const char* entry, unsigned char) {
      int pid = 0;
      if (!IsPid(entry, &pid) || ++seen > kMaxProcesses) return;
      if (auto f = Look(ctx, *boot, pid)) found.push_back(std::move(*f));
    });
    if (ctx.Cancelled()) return Status::Error(StatusCode::kCancelled, "buildkitd run cancelled");

    auto data = std::make_shared<BuildkitdData>();
    data->process_name = options_.process;
    data->matched = found.size();
    std::sort(found.begin(), found.end(),
              [](const Found& a, const Found& b) { return a.identity < b.identity; });
    Track(ctx.Now(), found, data.get());
    for (auto& f : found) {
      if (data->processes.size() >= static_cast<std::size_t>(options_.max_processes)) break;
      f.process.slot = std::to_string(data->processes.size());
      data->processes.push_back(std::move(f.process));
    }
    first_run_ = false;
    *out = std::move(data);
    return Status::Ok();
  }

 private:
  // The process `pid` if it is ours (a process that exits meanwhile is not).
  std::optional<Found> Look(const ProbeContext& ctx, std::int64_t boot, int pid) {
    const std::string dir = ctx.proc_root + "/" + std::to_string(pid);
    std::string comm = ReadText(dir + "/comm", 64);
    while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\0')) comm.pop_back();
    if (comm != options_.process) return std::nullopt;
    auto ticks = ParseStartTicks(ReadText(dir + "/stat", 4096));
    if (!ticks) return std::nullopt;
    Found f;
    auto& p = f.process;
    p.pid = pid;
    p.pid_namespace = ParseNamespaceLink(ReadLink(dir + "/ns/pid"));
    static const long kTicks = ::sysconf(_SC_CLK_TCK);
    p.started = SystemTime(std::chrono::seconds(boot)) +
                std::chrono::duration_cast<Duration>(std::chrono::duration<double>(
                    static_cast<double>(*ticks) / static_cast<double>(kTicks > 0 ? kTicks : 100)));
    std::string status = ReadText(dir + "/status", 64 * 1024);
    p.resident_bytes = ParseVmRssBytes(status);
    p.namespace_pid = ParseInnermostPid(status).value_or(0);
    p.cgroup = ParseProcCgroup(ReadText(dir + "/cgroup", 64 * 1024));
    p.memory = ReadCgroupMemory(options_.cgroup_root, p.cgroup);
    if (options_.read_environment) {
      std::string environ;
      // Reading another process's environ needs ptrace access (root, or CAP_SYS_PTRACE).
      p.environ_readable = ReadSmallFile(dir + "/environ", &environ, 1 << 20).ok();
      if (p.environ_readable) p.environment = ViewEnvironment(environ);
    }
    f.identity = {p.pid_namespace, pid, *ticks};
    return f;
  }

  // Restarts: a process seen before that went away is "missing" until one not seen before takes
  // its place (at once, or after runs without any). New processes beyond the missing ones are new
  // instances, not restarts: the first run sees only those.
  void Track(SystemTime now, const std::vector<Found>& found, BuildkitdData* data) {
    std::set<Identity> current;
    for (const auto& f : found) current.insert(f.identity);
    std::size_t fresh = 0, gone = 0;
    for (const auto& id : current) fresh += known_.contains(id) ? 0 : 1;
    for (const auto& id : known_) gone += current.contains(id) ? 0 : 1;
    missing_ += gone;
    const std::size_t replaced = std::min(fresh, missing_);
    missing_ -= replaced;
    restarts_ += replaced;
    for (std::size_t i = 0; i < replaced; ++i) restart_times_.push_back(now);
    while (!restart_times_.empty() && now - restart_times_.front() > options_.restart_window) {
      restart_times_.pop_front();
    }
    known_ = std::move(current);

    std::map<std::string, std::uint64_t> oom;
    for (const auto& f : found) {
      const auto& m = f.process.memory;
      if (!m.oom_kills || m.dir.empty()) continue;
      oom[m.dir] = *m.oom_kills;
      auto it = oom_seen_.find(m.dir);
      std::uint64_t before = it != oom_seen_.end() ? it->second : (first_run_ ? *m.oom_kills : 0);
      if (*m.oom_kills > before) {
        oom_kills_ += *m.oom_kills - before;
        last_oom_kill_ = now;
      }
    }
    oom_seen_ = std::move(oom);

    data->restarts = restarts_;
    data->restart_window = options_.restart_window;
    data->restart_threshold = options_.restart_threshold;
    data->restarts_in_window = restart_times_.size();
    data->crash_loop =
        static_cast<std::int64_t>(restart_times_.size()) >= options_.restart_threshold;
    data->oom_kills = oom_kills_;
    data->last_oom_kill = last_oom_kill_;
  }

  BuildkitdOptions options_;
  bool first_run_ = true;
  std::set<Identity> known_;
  std::size_t missing_ = 0;
  std::uint64_t restarts_ = 0;
  std::deque<SystemTime> restart_times_;
  std::map<std::string, std::uint64_t> oom_seen_;  // cgroup directory -> its oom_kill count
  std::uint64_t oom_kills_ = 0;
  SystemTime last_oom_kill_{};
};

nlohmann::json Optional(const std::optional<std::uint64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json BuildkitdData::ToJson() const {
  nlohmann::json j = {{"process", process_name},
                      {"present", !processes.empty()},
                      {"matched", matched},
                      {"restarts", restarts},
                      {"restart_window_seconds", ToSeconds(restart_window)},
                      {"restarts_in_window", restarts_in_window},
                      {"crash_loop", crash_loop},
                      {"oom_kills", oom_kills}};
  j["last_oom_kill"] = last_oom_kill == SystemTime{} ? nlohmann::json(nullptr)
                                                     : nlohmann::json(ToUnixSeconds(last_oom_kill));
  auto& ps = j["processes"] = nlohmann::json::array();
  for (const auto& p : processes) {
    nlohmann::json item = {{"slot", p.slot},
                           {"pid", p.pid},
                           {"namespace_pid", p.namespace_pid},
                           {"pid_namespace", p.pid_namespace},
                           {"started", ToUnixSeconds(p.started)},
                           {"resident_bytes", Optional(p.resident_bytes)}};
    item["cgroup"] = {{"version", p.cgroup.version},
                      {"path", p.cgroup.path},
                      {"dir", p.memory.dir},
                      {"memory_limit_bytes", Optional(p.memory.limit_bytes)},
                      {"memory_usage_bytes", Optional(p.memory.usage_bytes)},
                      {"oom_kills", Optional(p.memory.oom_kills)},
                      {"error", p.memory.error}};
    item["environ_readable"] = p.environ_readable;
    auto& env = item["environment"] = nlohmann::json::object();
    for (const auto& [name, value] : p.environment.shown) env[name] = value;
    auto& hints = item["environment_warnings"] = nlohmann::json::array();
    for (const auto& h : p.environment.hints) {
      hints.push_back({{"name", h.name},
                       {"did_you_mean", h.did_you_mean},
                       {"message", h.name +
                                       " is set but Earthly's entrypoint does not read it; "
                                       "did you mean " +
                                       h.did_you_mean + "?"}});
    }
    ps.push_back(std::move(item));
  }
  return j;
}

void BuildkitdData::ExportMetrics(MetricWriter& out) const {
  out.Gauge("cachewarden_buildkitd_processes",
            "Visible processes named as probes.buildkitd.process says, in every pid namespace.",
            static_cast<double>(matched));
  out.Counter("cachewarden_buildkit_restarts_total",
              "buildkitd restarts seen since the agent started (a process gone and another in its "
              "place).",
              static_cast<double>(restarts));
  out.Gauge("cachewarden_buildkit_crash_loop",
            "1 while buildkitd restarted at least restart_threshold times within restart_window.",
            crash_loop ? 1 : 0);
  out.Counter("cachewarden_buildkit_oom_kills_total",
              "OOM kills in buildkitd's memory cgroup seen since the agent started.",
              static_cast<double>(oom_kills));
  std::size_t hints = 0;
  for (const auto& p : processes) {
    MetricLabels slot = {{"slot", p.slot}};
    hints += p.environment.hints.size();
    out.Gauge("cachewarden_buildkitd_start_time_seconds",
              "When the buildkitd process started, in seconds since the epoch.",
              ToUnixSeconds(p.started), slot);
    if (p.resident_bytes) {
      out.Gauge("cachewarden_buildkitd_resident_memory_bytes",
                "buildkitd's resident memory (VmRSS).", static_cast<double>(*p.resident_bytes),
                slot);
    }
    if (p.memory.limit_bytes) {
      out.Gauge("cachewarden_buildkitd_cgroup_memory_limit_bytes",
                "The memory limit of buildkitd's cgroup (absent: no limit).",
                static_cast<double>(*p.memory.limit_bytes), slot);
    }
    if (p.memory.usage_bytes) {
      out.Gauge("cachewarden_buildkitd_cgroup_memory_usage_bytes",
                "The memory buildkitd's cgroup uses (memory.current, memory.usage_in_bytes).",
                static_cast<double>(*p.memory.usage_bytes), slot);
    }
    if (p.memory.oom_kills) {
      out.Counter("cachewarden_buildkitd_cgroup_oom_kills_total",
                  "The oom_kill count of buildkitd's cgroup, as the kernel keeps it.",
                  static_cast<double>(*p.memory.oom_kills), slot);
    }
  }
  out.Gauge("cachewarden_buildkitd_environment_warnings",
            "Variables in buildkitd's environment that look like ones Earthly's entrypoint reads "
            "but are not read (see /status).",
            static_cast<double>(hints));
}

BuildkitdOptions ReadBuildkitdOptions(ConfigReader& section) {
  BuildkitdOptions o;
  o.process = section.String("process", o.process);
  if (o.process.empty() || o.process.size() > 15 || o.process.find('/') != std::string::npos) {
    section.Fail("process", "expected a process name of 1 to 15 bytes (/proc/<pid>/comm), no '/'");
  }
  o.cgroup_root = section.String("cgroup_root", o.cgroup_root);
  if (o.cgroup_root.empty() || o.cgroup_root[0] != '/') {
    section.Fail("cgroup_root", "expected an absolute path, got \"" + o.cgroup_root + "\"");
  }
  o.restart_window = section.Dur("restart_window", o.restart_window, std::chrono::seconds(10),
                                 std::chrono::days(7));
  o.restart_threshold = section.Int("restart_threshold", o.restart_threshold, 1, 1000);
  o.max_processes = section.Int("max_processes", o.max_processes, 1, 64);
  o.read_environment = section.Bool("read_environment", o.read_environment);
  return o;
}

std::unique_ptr<Probe> NewBuildkitdProbe(const BuildkitdOptions& options) {
  return std::make_unique<BuildkitdProbe>(options);
}

}  // namespace cachewarden
