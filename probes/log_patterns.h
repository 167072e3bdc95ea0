#pragma once

#include <cstddef>
#include <cstdint>
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
  kCacheCorrupted,       // the cache's metadata is damaged: bolt freelist, cache key state, panic
  kPanic,                // a Go panic (buildkitd crashed)
  kHealthcheckFailed,    // Earthly's healthcheck gave up on buildkitd
  kBuildkitExited,       // Earthly's entrypoint: buildkitd exited with a non-zero code
  kTlsDisabled,          // BuildKit serves a tcp:// address without TLS
  kCacheReset,           // Earthly's entrypoint wiped the cache at start (EARTHLY_RESET_TMP_DIR)
  kCacheSizeClamped,     // the entrypoint clamped the GC size (CACHE_SIZE_MB against _PCT)
  kCacheSizeAuto,        // the entrypoint chose the GC size itself
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
    {LogEventKind::kCacheCorrupted, "cache_corrupted"},
    {LogEventKind::kPanic, "panic"},
    {LogEventKind::kHealthcheckFailed, "healthcheck_failed"},
    {LogEventKind::kBuildkitExited, "buildkit_exited"},
    {LogEventKind::kTlsDisabled, "tls_disabled"},
    {LogEventKind::kCacheReset, "cache_reset"},
    {LogEventKind::kCacheSizeClamped, "cache_size_clamped"},
    {LogEventKind::kCacheSizeAuto, "cache_size_auto"},
};
constexpr std::string_view LogEventKindName(LogEventKind kind) {
  return NameIn<LogEventKind>(kLogEventKindNames, kind);
}
inline constexpr std::size_t kLogEventKinds = std::size(kLogEventKindNames);

struct LogMatch {
  LogEventKind kind;
  std::string path;      // the path rm could not remove (dind_busy only)
  std::string entry_id;  // the dind entry under .../dind/ (dind_busy only)
  // The figure the line gives, as logged (at most 256 bytes, not yet sanitized): the exit code
  // (buildkit_exited), the tcp:// address (tls_disabled), the wiped directory (cache_reset), the
  // size and its reason (cache_size_*), the panic line (cache_corrupted from a panic).
  std::string detail;
};

// What a line says, or nullopt. At most one kind per line, in the order of the enum. Matches
// busybox (`rm: can't remove '...': Resource busy`) and GNU (`rm: cannot remove '...': Device or
// resource busy`) for any path with a /dind/ component (/var/earthly/dind, /var/earthbuild/dind,
// the cache's own dind/). `sh: write error: Resource busy` (cgroup setup) is not a dind failure and
// matches nothing. Pure.
std::optional<LogMatch> MatchLogLine(std::string_view line);

// The GC size in MB Earthly's entrypoint says it chose: `cache size set automatically to N MB`,
// `clamping cache size to N MB (...)`, or a line `CACHE_SIZE_MB=N`; nullopt for any other line.
// The entrypoint's MB are df's KiB / 1024 (MiB). Pure.
std::optional<std::uint64_t> EntrypointCacheSizeMb(std::string_view line);

// MatchLogLine over one file's lines in order, plus what spans lines: a `panic:` line followed,
// within kPanicFrameLines lines, by a stack frame in bolt (bbolt, boltdb) or a snapshotter
// (`/snapshot`) is cache corruption; the panic line itself is a kPanic event. One per log file;
// not thread-safe; bounded state (one pending panic).
class LogMatcher {
 public:
  static constexpr int kPanicFrameLines = 64;
  std::optional<LogMatch> Next(std::string_view line);

 private:
  int panic_lines_left_ = 0;  // > 0: a panic is pending, its frames are being read
  std::string panic_line_;
};

}  // namespace cachewarden
