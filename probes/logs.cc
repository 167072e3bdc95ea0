#include "probes/logs.h"

#include <fmt/format.h>

#include "base/text.h"

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

class LogsProbe : public Probe {
 public:
  explicit LogsProbe(const LogsOptions& options) : recent_limit_(options.recent_events) {
    for (const auto& f : options.files) followers_.push_back(std::make_unique<LogFollower>(f));
  }
  std::string_view name() const override { return LogsData::kProbe; }

  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    auto data = std::make_shared<LogsData>();
    for (auto& follower : followers_) {
      // Lines read so far stay counted in this probe; the next run shows them.
      if (ctx.Cancelled()) return Status::Error(StatusCode::kCancelled, "logs run cancelled");
      const std::string& file = follower->options().path;
      Status s = follower->Poll([&](LogLine&& line) { Take(ctx, file, line); });
      data->files.push_back({file, follower->stats(), s.ok() ? "" : s.ToString()});
    }
    data->counts = counts_;
    data->last_time = last_time_;
    data->snapshotter_fallback = fallback_;
    data->recent.assign(recent_.begin(), recent_.end());
    *out = std::move(data);
    return Status::Ok();
  }

 private:
  void Take(const ProbeContext& ctx, const std::string& file, const LogLine& line) {
    auto match = MatchLogLine(line.text);
    if (!match) return;
    auto k = static_cast<std::size_t>(match->kind);
    LogEvent e;
    e.kind = match->kind;
    e.time = line.time ? *line.time : LogrusTime(line.text).value_or(ctx.Now());
    e.file = file;
    e.line = SanitizeUtf8(line.text, kMaxStoredLine);
    e.entry_id = SanitizeUtf8(match->entry_id, 256);
    e.path = SanitizeUtf8(match->path, kMaxStoredLine);
    ++counts_[k];
    if (e.time > last_time_[k]) last_time_[k] = e.time;
    if (match->kind == LogEventKind::kSnapshotterFallback) fallback_ = true;
    if (match->kind == LogEventKind::kBuildkitdStart) fallback_ = false;
    recent_.push_back(std::move(e));
    while (recent_.size() > recent_limit_) recent_.pop_front();
  }

  std::vector<std::unique_ptr<LogFollower>> followers_;
  std::size_t recent_limit_;
  std::array<std::uint64_t, kLogEventKinds> counts_{};
  std::array<SystemTime, kLogEventKinds> last_time_{};
  bool fallback_ = false;
  std::deque<LogEvent> recent_;
};

}  // namespace

const LogEvent* LogsData::LastEvent(LogEventKind kind) const {
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
    if (it->kind == kind) return &*it;
  }
  return nullptr;
}

nlohmann::json LogsData::ToJson() const {
  nlohmann::json j;
  auto& fs = j["files"] = nlohmann::json::array();
  for (const auto& f : files) {
    fs.push_back({{"path", f.path},
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
  auto& counts_json = j["counts"] = nlohmann::json::object();
  for (const auto& [kind, name] : kLogEventKindNames) {
    counts_json[std::string(name)] = counts[static_cast<std::size_t>(kind)];
  }
  j["snapshotter_fallback"] = snapshotter_fallback;
  auto& ev = j["recent_events"] = nlohmann::json::array();
  for (const auto& e : recent) {
    nlohmann::json item = {{"kind", LogEventKindName(e.kind)},
                           {"time", ToUnixSeconds(e.time)},
                           {"file", e.file},
                           {"line", e.line}};
    if (!e.entry_id.empty()) item["entry_id"] = e.entry_id;
    if (!e.path.empty()) item["path"] = e.path;
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
