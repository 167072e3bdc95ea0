#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "base/enum_names.h"

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
// The spelling of each kind, in declaration order (a kind's value indexes it): the `kind` label of
// cachewarden_log_events_total and JSON's "kind". Walking it walks every kind.
inline constexpr EnumName<LogEventKind> kLogEventKindNames[] = {
    {LogEventKind::kDindBusy, "dind_busy"},
    {LogEventKind::kSnapshotterFallback, "snapshotter_fallback"},
    {LogEventKind::kDiskFull, "disk_full"},
    {LogEventKind::kIoError, "io_error"},
    {LogEventKind::kGcError, "gc_error"},
    {LogEventKind::kBuildkitdStart, "buildkitd_start"},
};
constexpr std::string_view LogEventKindName(LogEventKind kind) {
  return NameIn<LogEventKind>(kLogEventKindNames, kind);
}
inline constexpr std::size_t kLogEventKinds = std::size(kLogEventKindNames);

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
