#include "probes/log_config_block.h"

#include <fmt/format.h>

namespace cachewarden {

std::optional<LoggedConfigBlock> ConfigBlockCollector::Next(std::string_view line, bool truncated,
                                                            SystemTime time) {
  std::optional<LoggedConfigBlock> ended;
  auto drop = [&](std::string why) {
    ended = LoggedConfigBlock{block_.time, "", std::move(why)};
    open_ = false;
    block_ = {};
  };
  if (line.find(kConfigBlockStart) != std::string_view::npos) {
    if (open_) drop("no end marker before the next start marker");
    open_ = true;
    lines_ = 0;
    block_ = {};
    block_.time = time;
    return ended;
  }
  if (!open_) return ended;
  if (line.find(kConfigBlockEnd) != std::string_view::npos) {
    ended = std::move(block_);
    open_ = false;
    block_ = {};
    return ended;
  }
  if (truncated) {
    drop("a line of the block was cut (longer than max_line_bytes)");
  } else if (++lines_ > kMaxLines || block_.text.size() + line.size() + 1 > kMaxBytes) {
    drop(fmt::format("the block is longer than {} lines or {} KiB", kMaxLines, kMaxBytes / 1024));
  } else {
    block_.text.append(line);
    block_.text.push_back('\n');
  }
  return ended;
}

LoggedBuildkitdConfig ReadLoggedConfig(const LoggedConfigBlock& block, std::string file) {
  LoggedBuildkitdConfig c;
  c.time = block.time;
  c.file = std::move(file);
  if (!block.dropped.empty()) {
    c.error = "config block dropped: " + block.dropped;
    return c;
  }
  if (Status s = ParseBuildkitdGcToml(block.text, &c.gc); !s.ok()) {
    c.error = "buildkitd.toml: " + s.message();
  }
  return c;
}

namespace {

nlohmann::json SizeJson(const BuildkitdDiskSpace& d) {
  if (!d.set) return nullptr;
  if (d.is_percent) return {{"percent", d.percent}};
  return {{"bytes", d.bytes}};
}

nlohmann::json BoolJson(const std::optional<bool>& b) {
  return b ? nlohmann::json(*b) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json GcConfigJson(const BuildkitdGcConfig& config) {
  auto workers = nlohmann::json::array();
  for (const BuildkitdWorkerGc& w : config.workers) {
    nlohmann::json keep = SizeJson(w.gckeepstorage_space);
    if (w.gckeepstorage_raw) {
      const auto raw = *w.gckeepstorage_raw;
      keep = {{"raw", raw},
              {"misplaced", w.gckeepstorage_misplaced},
              {"as_bytes", raw},
              {"as_mb_bytes", raw >= 0 && raw < (std::int64_t{1} << 43) ? nlohmann::json(raw << 20)
                                                                        : nlohmann::json(nullptr)}};
    }
    auto policies = nlohmann::json::array();
    for (const BuildkitdGcPolicy& p : w.policies) {
      policies.push_back({{"all", p.all},
                          {"filters", p.filters},
                          {"keep_duration_seconds", p.keep_duration_seconds},
                          {"keep_bytes", SizeJson(p.keep_bytes)},
                          {"reserved_space", SizeJson(p.reserved_space)},
                          {"max_used_space", SizeJson(p.max_used_space)},
                          {"min_free_space", SizeJson(p.min_free_space)}});
    }
    workers.push_back({{"worker", w.worker},
                       {"enabled", BoolJson(w.enabled)},
                       {"gc", BoolJson(w.gc)},
                       {"gckeepstorage", std::move(keep)},
                       {"reserved_space", SizeJson(w.reserved_space)},
                       {"max_used_space", SizeJson(w.max_used_space)},
                       {"min_free_space", SizeJson(w.min_free_space)},
                       {"policies", std::move(policies)}});
  }
  return {{"workers", std::move(workers)}};
}

nlohmann::json GcCapJson(const std::optional<BuildkitdGcCap>& cap) {
  if (!cap) return nullptr;
  return {{"worker", cap->worker},
          {"source", cap->source},
          {"bytes", cap->bytes},
          {"bytes_if_mb", cap->bytes_if_mb}};
}

}  // namespace cachewarden
