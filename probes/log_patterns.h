#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cachewarden {

// The fixed set of things we recognise in buildkitd's log (the label values of
// cachewarden_log_events_total{kind}).
enum class LogEventKind {
  kDindBusy,             // rm of a dind entry failed: "Resource busy"
  kSnapshotterFallback,  // overlayfs snapshotter unavailable: native copies
  kDiskFull,             // "no space left on device"
  kIoError,              // "input/output error"
  kGcError,              // "gc error:"
  kBuildkitdStart,       // buildkitd (re)started: its config banner
};
inline constexpr std::size_t kLogEventKinds = 6;
inline constexpr std::array<LogEventKind, kLogEventKinds> kAllLogEventKinds = {
    LogEventKind::kDindBusy, LogEventKind::kSnapshotterFallback,
    LogEventKind::kDiskFull, LogEventKind::kIoError,
    LogEventKind::kGcError,  LogEventKind::kBuildkitdStart};

std::string_view LogEventKindName(LogEventKind kind);

struct LogMatch {
  LogEventKind kind;
  std::string path;      // the path rm could not remove (dind_busy only)
  std::string entry_id;  // the dind entry under .../dind/ (dind_busy only)
};

// What a line says, or nullopt. At most one kind per line, in the order of the enum. Matches
// busybox (`rm: can't remove '...': Resource busy`) and GNU (`rm: cannot remove '...': Device or
// resource busy`) for any path with a /dind/ component (/var/earthly/dind, /var/earthbuild/dind,
// the cache's own dind/). `sh: write error: Resource busy` (cgroup setup) is not a dind failure and
// matches nothing. Pure.
std::optional<LogMatch> MatchLogLine(std::string_view line);

}  // namespace cachewarden
