#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "probes/buildkitd_config.h"

namespace cachewarden {

// Earthly's entrypoint prints the buildkitd.toml it generated between these two lines before it
// starts buildkitd. A line holding the marker is one (the follower has already removed a CRI
// prefix; a docker-style prefix before it is allowed).
inline constexpr std::string_view kConfigBlockStart = "======== Buildkitd config ==========";
inline constexpr std::string_view kConfigBlockEnd = "======== End buildkitd config ==========";

// A config block as logged, or why it was given up.
struct LoggedConfigBlock {
  SystemTime time{};  // of its start marker
  std::string text;   // the lines between the markers, each ending in '\n'; empty when dropped
  // Why the block was dropped (too large, a line cut by the follower, no end marker before the
  // next start marker); empty: complete.
  std::string dropped;
};

// Collects the config blocks of one file's lines, in order. A start marker begins a block, its end
// marker completes it; a block past kMaxBytes or kMaxLines, with a line the follower cut, or still
// open at the next start marker is dropped, so that a partial config never passes as the whole. A
// block still open when the lines run out is pending: nothing is returned until it ends. Not
// thread-safe; holds at most kMaxBytes.
class ConfigBlockCollector {
 public:
  static constexpr std::size_t kMaxBytes = 64 * 1024;
  static constexpr std::size_t kMaxLines = 2000;
  // Takes the next line (`truncated`: cut by the follower; `time`: when it was logged). Returns a
  // block when one ends with this line, complete or dropped.
  std::optional<LoggedConfigBlock> Next(std::string_view line, bool truncated, SystemTime time);

 private:
  bool open_ = false;
  std::size_t lines_ = 0;
  LoggedConfigBlock block_;
};

// The settings of the latest config block buildkitd's log showed.
struct LoggedBuildkitdConfig {
  SystemTime time{};  // when its start marker was logged
  std::string file;   // the log file it was read from
  // Why the settings are not known: the block was dropped, or it is not valid TOML, or a GC key
  // has the wrong type (ParseBuildkitdGcToml's message); empty: `gc` holds them.
  std::string error;
  BuildkitdGcConfig gc;
};
// From a block that ended: its GC settings parsed, or the reason they are not known.
LoggedBuildkitdConfig ReadLoggedConfig(const LoggedConfigBlock& block, std::string file);

// JSON of the GC settings: {"workers": [{"worker", "enabled", "gc", "gckeepstorage": {"raw",
// "misplaced", "as_bytes", "as_mb_bytes"} | size, "reserved_space", "max_used_space",
// "min_free_space", "policies": [{"all", "filters", "keep_duration_seconds", "keep_bytes",
// ...}]}]}. A size is null (not set), {"bytes": N} or {"percent": P}; an unset boolean is null.
nlohmann::json GcConfigJson(const BuildkitdGcConfig& config);
// JSON of a cap: {"worker", "source", "bytes", "bytes_if_mb"}, or null.
nlohmann::json GcCapJson(const std::optional<BuildkitdGcCap>& cap);

}  // namespace cachewarden
