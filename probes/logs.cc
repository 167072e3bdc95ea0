#include "probes/logs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "base/log.h"
#include "base/text.h"
#include "probes/snapshot.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

constexpr std::size_t kMaxStoredLine = 1024;

// logrus's `time="2024-01-10T13:30:15Z"`, as buildkitd writes it.
std::optional<SystemTime> LogrusTime(std::string_view line) {
  auto at = line.find("time=\"");
  if (at == std::string_view::npos) return std::nullopt;
  auto start = at + 6;
  auto end = line.find('"', start);
  if (end == std::string_view::npos) return std::nullopt;
  return ParseRfc3339(line.substr(start, end - start));
}

// A log figure that may become a label value (cachewarden_buildkit_log_tls_disabled{address}):
// tcp:// and at most 64 bytes of host and port characters (letters, digits, '.', '-', ':', '[',
// ']'). Anything else a log line says stays out of labels.
bool IsLabelAddress(std::string_view a) {
  constexpr std::string_view kScheme = "tcp://";
  if (!a.starts_with(kScheme) || a.size() == kScheme.size() || a.size() > kScheme.size() + 64) {
    return false;
  }
  return std::all_of(a.begin() + kScheme.size(), a.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
}

class LogsProbe : public Probe {
 public:
  explicit LogsProbe(const LogsOptions& options) : options_(options) {
    configured_ = !options.files.empty();
    for (const auto& f : options.files) followed_.push_back(Followed(f, "configured", ""));
  }
  std::string_view name() const override { return LogsData::kProbe; }

  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    auto data = std::make_shared<LogsData>();
    if (!configured_) data->discovery = Rediscover(ctx);
    for (auto& f : followed_) {
      // Lines read so far stay counted in this probe; the next run shows them.
      if (ctx.Cancelled()) return Status::Error(StatusCode::kCancelled, "logs run cancelled");
      const std::string& file = f.follower->options().path;
      f.read_time.reset();
      Status s = f.follower->Poll([&](LogLine&& line) { Take(ctx, file, f, line); });
      data->files.push_back(
          {file, f.source, f.detail, f.follower->stats(), s.ok() ? "" : s.ToString()});
    }
    data->counts = counts_;
    data->last_time = last_time_;
    data->snapshotter_fallback = fallback_;
    for (const auto& [address, time] : plaintext_) data->plaintext_tcp.push_back(address);
    data->recent.assign(recent_.begin(), recent_.end());
    data->last_detail = last_detail_;
    data->restarts = restarts_;
    data->restart_times.assign(restart_times_.begin(), restart_times_.end());
    data->logged_config = logged_config_;
    if (logged_config_) {
      // buildkitd resolves a percentage against the disk of its root: the cache volume.
      auto volume = ctx.previous ? ctx.previous->Get<VolumeData>() : nullptr;
      data->logged_config_disk_bytes = volume ? volume->size_bytes : 0;
      data->logged_gc_cap = BuildkitdGcCapFor(logged_config_->gc, data->logged_config_disk_bytes);
    }
    data->entrypoint_cache_size_mb = cache_size_mb_;
    *out = std::move(data);
    return Status::Ok();
  }

 private:
  struct Followed {
    Followed(const LogFollowerOptions& o, std::string src, std::string det)
        : follower(std::make_unique<LogFollower>(o)),
          source(std::move(src)),
          detail(std::move(det)) {}
    std::unique_ptr<LogFollower> follower;
    LogMatcher matcher;                 // one per file: a panic's frames follow it in its own file
    ConfigBlockCollector config_block;  // likewise the lines of a config block
    std::optional<SystemTime> read_time;  // the latest own time of a line in this run's read
    std::string source;
    std::string detail;
  };

  // Follows what discovery finds now: a file found before keeps its follower (and its place), one
  // no longer found is dropped (its lines stay counted), a new one is read from its start unless
  // it was there when the agent started. Returns where discovery looked.
  std::string Rediscover(const ProbeContext& ctx) {
    std::string looked;
    std::vector<DiscoveredLog> found = DiscoverLogs(options_.discover, ctx.proc_root, &looked);
    std::vector<Followed> next;
    for (auto& d : found) {
      auto it = std::find_if(followed_.begin(), followed_.end(), [&](const Followed& f) {
        return f.follower->options().path == d.path;
      });
      if (it != followed_.end()) {
        it->detail = d.detail;
        next.push_back(std::move(*it));
        followed_.erase(it);
        continue;
      }
      LogFollowerOptions o = options_.discovered_file;
      o.path = d.path;
      o.start_at_end = first_discovery_;
      next.push_back(Followed(o, d.source, d.detail));
    }
    first_discovery_ = false;
    followed_ = std::move(next);
    // Said once per change, not every run: what the agent reads of buildkitd, or that it reads
    // none.
    std::vector<std::string> paths;
    for (const auto& f : followed_) paths.push_back(f.follower->options().path);
    // One-shot commands say it in their report instead of a log line.
    if (!ctx.one_shot && (paths != announced_ || !announced_once_)) {
      announced_once_ = true;
      announced_ = paths;
      if (paths.empty()) {
        LogInfo(
            fmt::format("logs: no buildkitd log configured or found ({}); set probes.logs.files "
                        "to follow one",
                        looked));
      } else {
        for (const auto& f : followed_) {
          LogInfo(fmt::format("logs: following buildkitd's log {} ({} {})",
                              f.follower->options().path, f.source, f.detail));
        }
      }
    }
    return looked;
  }

  void Take(const ProbeContext& ctx, const std::string& file, Followed& f, const LogLine& line) {
    // A line with no time of its own is dated at read time, but for Earthly's entrypoint's start
    // banner (and its config block) and exit lines: those take the latest time a line of this read
    // carried (read time when none did yet), so that a backlog read at once keeps its restarts
    // apart and in the past instead of all of them "now", and buildkitd's first dated line after a
    // banner then dates its start (CountRestart).
    const std::optional<SystemTime> own = line.time ? line.time : LogrusTime(line.text);
    if (own) f.read_time = *own;
    const SystemTime borrowed = own ? *own : f.read_time.value_or(ctx.Now());
    const SystemTime time = own ? *own : ctx.Now();
    // The block's lines are still matched below: the start marker is a start banner too.
    if (auto block = f.config_block.Next(line.text, line.truncated, borrowed)) {
      logged_config_ = ReadLoggedConfig(*block, file);
    }
    if (auto mb = EntrypointCacheSizeMb(line.text)) cache_size_mb_ = *mb;
    auto match = f.matcher.Next(line.text);
    if (!match) return;
    auto k = static_cast<std::size_t>(match->kind);
    LogEvent e;
    e.kind = match->kind;
    e.time = IsLifeEvent(match->kind) ? borrowed : time;
    e.file = file;
    e.line = SanitizeUtf8(line.text, kMaxStoredLine);
    e.entry_id = SanitizeUtf8(match->entry_id, 256);
    e.path = SanitizeUtf8(match->path, kMaxStoredLine);
    e.detail = SanitizeUtf8(match->detail, 256);
    if (!e.detail.empty()) last_detail_[k] = e.detail;
    // What holds until buildkitd restarts belongs to the start whose banners come around it: one
    // start logs the fallback and the TLS warning before its `running server on` lines.
    if (CountRestart(e, own.has_value())) {
      // What came before a banner was the start before (the banner is a start's first line).
      ForgetBefore(banner_start_ ? e.time + std::chrono::nanoseconds(1)
                                 : e.time - LogsData::kStartBannerGap);
    }
    ++counts_[k];
    if (e.time > last_time_[k]) last_time_[k] = e.time;
    if (match->kind == LogEventKind::kSnapshotterFallback) {
      fallback_ = true;
      fallback_time_ = e.time;
    }
    if (match->kind == LogEventKind::kTlsDisabled && IsLabelAddress(e.detail)) {
      auto same = std::find_if(plaintext_.begin(), plaintext_.end(),
                               [&](const auto& p) { return p.first == e.detail; });
      if (same != plaintext_.end()) {
        same->second = e.time;
      } else if (plaintext_.size() < LogsData::kMaxPlaintextTcp) {
        plaintext_.emplace_back(e.detail, e.time);
      }
    }
    recent_.push_back(std::move(e));
    while (recent_.size() > options_.recent_events) recent_.pop_front();
  }

  static bool IsLifeEvent(LogEventKind k) {
    return k == LogEventKind::kBuildkitdStart || k == LogEventKind::kBuildkitExited ||
           k == LogEventKind::kHealthcheckFailed;
  }

  // Drops what the start beginning at `t` (less the banner gap) no longer holds.
  void ForgetBefore(SystemTime t) {
    if (fallback_ && fallback_time_ < t) fallback_ = false;
    std::erase_if(plaintext_, [&](const auto& p) { return p.second < t; });
  }

  // Counts a restart; true when `e` is the first banner of a start (not one of the banners of the
  // start before it). `own_time`: the line carried its time.
  bool CountRestart(const LogEvent& e, bool own_time) {
    if (e.kind == LogEventKind::kBuildkitExited || e.kind == LogEventKind::kHealthcheckFailed) {
      seen_life_ = true;
      exited_ = true;
      return false;
    }
    if (e.kind != LogEventKind::kBuildkitdStart) return false;
    // One start logs Earthly's config banner (once, first) and a "running server on" line per
    // address. At a banner or after an exit line a start begins. The first server line with a time
    // of its own after a banner with none belongs to the banner's start and dates it (the banner's
    // time was borrowed); otherwise lines less than the gap apart are one start.
    const bool banner = e.line.find(kConfigBlockStart) != std::string::npos;
    bool same_start = false;
    bool dates_start = false;
    if (have_start_ && !exited_ && !banner) {
      dates_start = banner_start_ && start_time_borrowed_ && own_time;
      same_start = dates_start || (e.time - last_start_ < LogsData::kStartBannerGap &&
                                   last_start_ - e.time < LogsData::kStartBannerGap);
    }
    if (same_start) {
      if (dates_start) {
        if (start_counted_ && !restart_times_.empty()) restart_times_.back() = e.time;
        start_time_borrowed_ = false;
      }
      last_start_ = e.time;
      return false;
    }
    have_start_ = true;
    exited_ = false;
    banner_start_ = banner;
    last_start_ = e.time;
    start_time_borrowed_ = !own_time;
    start_counted_ = seen_life_;
    if (seen_life_) {
      ++restarts_;
      restart_times_.push_back(e.time);
      while (restart_times_.size() > LogsData::kMaxRestartTimes) restart_times_.pop_front();
    }
    seen_life_ = true;
    return true;
  }

  LogsOptions options_;
  bool configured_ = false;
  bool first_discovery_ = true;
  bool announced_once_ = false;
  std::vector<std::string> announced_;  // the discovered paths last logged
  std::vector<Followed> followed_;
  std::array<std::uint64_t, kLogEventKinds> counts_{};
  std::array<SystemTime, kLogEventKinds> last_time_{};
  bool fallback_ = false;
  SystemTime fallback_time_{};
  std::vector<std::pair<std::string, SystemTime>> plaintext_;  // address, latest warning
  std::deque<LogEvent> recent_;
  std::array<std::string, kLogEventKinds> last_detail_{};
  bool seen_life_ = false;  // a start or an exit was seen: the next start is a restart
  bool have_start_ = false;
  bool exited_ = false;               // an exit line since the latest start
  bool banner_start_ = false;         // the latest start began with Earthly's config banner
  bool start_time_borrowed_ = false;  // ... whose line had no time of its own
  bool start_counted_ = false;        // ... counted as a restart
  SystemTime last_start_{};
  std::uint64_t restarts_ = 0;
  std::deque<SystemTime> restart_times_;
  std::optional<LoggedBuildkitdConfig> logged_config_;
  std::optional<std::uint64_t> cache_size_mb_;
};

}  // namespace

const LogEvent* LogsData::LastEvent(LogEventKind kind) const {
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
    if (it->kind == kind) return &*it;
  }
  return nullptr;
}

std::size_t LogsData::RestartsSince(SystemTime since) const {
  return static_cast<std::size_t>(std::count_if(restart_times.begin(), restart_times.end(),
                                                [&](SystemTime t) { return t >= since; }));
}

nlohmann::json LogsData::ToJson() const {
  nlohmann::json j;
  auto& fs = j["files"] = nlohmann::json::array();
  for (const auto& f : files) {
    fs.push_back({{"path", f.path},
                  {"source", f.source},
                  {"detail", f.detail},
                  {"open", f.stats.open},
                  {"missing", f.stats.missing},
                  {"format", ToString(f.stats.detected)},
                  {"lines", f.stats.lines},
                  {"truncated_lines", f.stats.truncated_lines},
                  {"rotations", f.stats.rotations},
                  {"truncations", f.stats.truncations},
                  {"bytes_read", f.stats.bytes_read},
                  {"error", f.error}});
  }
  if (!discovery.empty()) j["discovery"] = discovery;
  auto& counts_json = j["counts"] = nlohmann::json::object();
  for (const auto& [kind, name] : kLogEventKindNames) {
    counts_json[std::string(name)] = counts[static_cast<std::size_t>(kind)];
  }
  j["snapshotter_fallback"] = snapshotter_fallback;
  j["plaintext_tcp"] = plaintext_tcp;
  auto& latest = j["latest"] = nlohmann::json::object();
  for (const auto& [kind, name] : kLogEventKindNames) {
    const auto& detail = last_detail[static_cast<std::size_t>(kind)];
    if (!detail.empty()) latest[std::string(name)] = detail;
  }
  j["restarts"] = restarts;
  if (logged_config) {
    j["logged_config"] = {{"time", ToUnixSeconds(logged_config->time)},
                          {"file", logged_config->file},
                          {"error", logged_config->error},
                          {"gc", GcConfigJson(logged_config->gc)},
                          {"gc_cap", GcCapJson(logged_gc_cap)},
                          {"disk_bytes", logged_config_disk_bytes}};
  } else {
    j["logged_config"] = nullptr;
  }
  j["entrypoint_cache_size_mb"] = entrypoint_cache_size_mb
                                      ? nlohmann::json(*entrypoint_cache_size_mb)
                                      : nlohmann::json(nullptr);
  auto& ev = j["recent_events"] = nlohmann::json::array();
  for (const auto& e : recent) {
    nlohmann::json item = {{"kind", LogEventKindName(e.kind)},
                           {"time", ToUnixSeconds(e.time)},
                           {"file", e.file},
                           {"line", e.line}};
    if (!e.entry_id.empty()) item["entry_id"] = e.entry_id;
    if (!e.path.empty()) item["path"] = e.path;
    if (!e.detail.empty()) item["detail"] = e.detail;
    ev.push_back(std::move(item));
  }
  return j;
}

void LogsData::ExportMetrics(MetricWriter& out) const {
  for (const auto& [kind, name] : kLogEventKindNames) {
    out.Counter("cachewarden_log_events_total",
                "Lines of buildkitd's log recognised since the agent started, by kind.",
                static_cast<double>(counts[static_cast<std::size_t>(kind)]),
                {{"kind", std::string(name)}});
  }
  for (const auto& [kind, name] : kLogEventKindNames) {
    auto t = last_time[static_cast<std::size_t>(kind)];
    if (t == SystemTime{}) continue;
    out.Gauge("cachewarden_log_last_event_timestamp_seconds",
              "When the latest line of each kind was logged, in seconds since the epoch.",
              ToUnixSeconds(t), {{"kind", std::string(name)}});
  }
  out.Gauge("cachewarden_buildkit_snapshotter_fallback",
            "1 if buildkitd logged that the overlayfs snapshotter is not available (it copies "
            "every layer), until it restarts.",
            snapshotter_fallback ? 1 : 0);
  for (const auto& address : plaintext_tcp) {
    out.Gauge("cachewarden_buildkit_log_tls_disabled",
              "1 for each TCP address BuildKit logged, at its latest start, that it serves without "
              "TLS (\"TLS is not enabled for tcp://...\").",
              1, {{"address", address}});
  }
  out.Counter("cachewarden_buildkit_log_restarts_total",
              "buildkitd restarts seen in its log since the agent started (a start banner after an "
              "earlier start or an exit line).",
              static_cast<double>(restarts));
  if (logged_config) {
    out.Gauge("cachewarden_buildkitd_logged_config_ok",
              "1 if the latest buildkitd.toml Earthly's entrypoint printed in buildkitd's log was "
              "read whole and its GC settings parsed; 0 if it was dropped or did not parse.",
              logged_config->error.empty() ? 1 : 0);
  }
  if (logged_gc_cap) {
    constexpr std::string_view kCapHelp =
        "The GC cap of the buildkitd.toml printed in buildkitd's log, in bytes, for the cache "
        "volume's size: the largest keepBytes, reservedSpace or maxUsedSpace of the gcpolicy, "
        "else the worker's gckeepstorage, reservedSpace or maxUsedSpace. An integer gckeepstorage "
        "is bytes to BuildKit (reading=\"bytes\") and MB in Earthly's template (reading=\"mb\"); "
        "otherwise the two are equal.";
    out.Gauge("cachewarden_buildkitd_logged_gc_cap_bytes", kCapHelp,
              static_cast<double>(logged_gc_cap->bytes), {{"reading", "bytes"}});
    out.Gauge("cachewarden_buildkitd_logged_gc_cap_bytes", kCapHelp,
              static_cast<double>(logged_gc_cap->bytes_if_mb), {{"reading", "mb"}});
  }
  if (entrypoint_cache_size_mb) {
    out.Gauge("cachewarden_buildkitd_logged_cache_size_bytes",
              "The GC size Earthly's entrypoint logged it chose (\"cache size set automatically "
              "to N MB\", \"clamping cache size to N MB\", CACHE_SIZE_MB=N), N MiB in bytes.",
              static_cast<double>(*entrypoint_cache_size_mb) * 1048576.0);
  }
}

std::string LogsData::Summary() const {
  if (files.empty()) {
    return fmt::format("no buildkitd log configured or found ({}): set probes.logs.files",
                       discovery);
  }
  std::vector<std::string> each;
  for (const auto& f : files) {
    std::string what = f.source == "configured" ? f.path : fmt::format("{} {}", f.source, f.detail);
    if (!f.stats.open) what += " (not open)";
    each.push_back(std::move(what));
  }
  return fmt::format("following {}", fmt::join(each, ", "));
}

LogsOptions ReadLogsOptions(ConfigReader& section) {
  SizeSpec max_line = section.Size("max_line_bytes", SizeSpec::Bytes(64 * 1024), false);
  SizeSpec max_read = section.Size("max_read_bytes", SizeSpec::Bytes(64 << 20), false);
  auto recent = section.Int("recent_events", 20, 1, 1000);
  if (max_line.value < 256 || max_line.value > (64 << 20)) {
    section.Fail("max_line_bytes", "expected a size from 256B to 64MiB");
  }
  if (max_read.value < 64 * 1024) {
    section.Fail("max_read_bytes", "expected a size of at least 64KiB");
  }
  bool present = false;
  LogsOptions options;
  options.recent_events = static_cast<std::size_t>(recent);
  options.discover = ReadLogDiscoveryOptions(section);
  options.discovered_file.max_line_bytes = static_cast<std::size_t>(max_line.value);
  options.discovered_file.max_read_bytes = static_cast<std::size_t>(max_read.value);
  for (auto& f : section.ObjectList("files", &present)) {
    LogFollowerOptions o;
    o.path = f.String("path", "");
    if (o.path.empty() || o.path[0] != '/') {
      f.Fail("path", fmt::format("expected an absolute path, got \"{}\"", o.path));
    }
    o.format = f.Choice("format", LogLineFormat::kAuto, kLogLineFormatNames);
    o.start_at_end = f.String("start_at", "end", {"end", "beginning"}) == "end";
    o.max_line_bytes = static_cast<std::size_t>(max_line.value);
    o.max_read_bytes = static_cast<std::size_t>(max_read.value);
    f.Finish();
    options.files.push_back(std::move(o));
  }
  return options;
}

std::unique_ptr<Probe> NewLogsProbe(const LogsOptions& options) {
  return std::make_unique<LogsProbe>(options);
}

}  // namespace cachewarden
