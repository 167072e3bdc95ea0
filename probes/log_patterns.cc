#include "probes/log_patterns.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cachewarden {
namespace {

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// `rm: can't remove 'P': ... resource busy` -> P.
std::optional<std::string_view> BusyRmPath(std::string_view line) {
  constexpr std::string_view kPrefixes[] = {"rm: can't remove '", "rm: cannot remove '"};
  for (auto prefix : kPrefixes) {
    auto at = line.find(prefix);
    if (at == std::string_view::npos) continue;
    auto start = at + prefix.size();
    auto end = line.find("': ", start);
    if (end == std::string_view::npos) continue;
    if (!ContainsNoCase(line.substr(end), "resource busy")) continue;
    return line.substr(start, end - start);
  }
  return std::nullopt;
}

// The component after the last "/dind/" of `path`.
std::optional<std::string> DindEntryId(std::string_view path) {
  auto at = path.rfind("/dind/");
  if (at == std::string_view::npos) return std::nullopt;
  auto rest = path.substr(at + 6);
  auto id = rest.substr(0, rest.find('/'));
  if (id.empty() || id.size() > 255) return std::nullopt;
  return std::string(id);
}

// What follows `marker` on the line, up to the first of `stops` (or the end), trimmed of spaces and
// quotes, at most 256 bytes.
std::string After(std::string_view line, std::string_view marker, std::string_view stops = "") {
  auto at = line.find(marker);
  if (at == std::string_view::npos) return "";
  auto rest = line.substr(at + marker.size());
  if (!stops.empty()) rest = rest.substr(0, rest.find_first_of(stops));
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '"' || rest.back() == '\\')) {
    rest.remove_suffix(1);
  }
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return std::string(rest.substr(0, 256));
}

LogMatch Event(LogEventKind kind, std::string detail = "") {
  return LogMatch{kind, {}, {}, std::move(detail)};
}

bool StartsPanic(std::string_view line) {
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line.starts_with("panic: ");
}

// A goroutine frame ("go.etcd.io/bbolt.(*freelist).read(...)", ".../snapshot.(*...)", or the file
// line below it) in code that owns the cache's on-disk state.
bool IsCacheFrame(std::string_view line) {
  return Contains(line, "bbolt") || Contains(line, "boltdb") || Contains(line, "/snapshot");
}

}  // namespace

std::optional<LogMatch> MatchLogLine(std::string_view line) {
  if (auto path = BusyRmPath(line)) {
    // The dind path may appear truncated or shell-quoted; the entry id is what a person needs, so
    // an rm failure outside dind/ is not ours.
    if (auto id = DindEntryId(*path)) {
      return LogMatch{LogEventKind::kDindBusy, std::string(*path), *id, {}};
    }
  }
  if (Contains(line, "overlayfs is not available") || Contains(line, "not supported as upperdir")) {
    return Event(LogEventKind::kSnapshotterFallback);
  }
  if (ContainsNoCase(line, "no space left on device")) {
    return Event(LogEventKind::kDiskFull);
  }
  if (ContainsNoCase(line, "input/output error")) {
    return Event(LogEventKind::kIoError);
  }
  if (Contains(line, "gc error:")) return Event(LogEventKind::kGcError);
  if (Contains(line, "======== Buildkitd config ==========") ||
      Contains(line, "running server on ")) {
    return Event(LogEventKind::kBuildkitdStart);
  }
  if (Contains(line, "failed to compute cache key: failed to get state for index") ||
      Contains(line, "invalid freelist page")) {
    return Event(LogEventKind::kCacheCorrupted);
  }
  if (StartsPanic(line)) return Event(LogEventKind::kPanic, After(line, "panic: "));
  if (Contains(line, "healthcheck failed fatally")) return Event(LogEventKind::kHealthcheckFailed);
  if (Contains(line, "buildkit process has exited with code ")) {
    return Event(LogEventKind::kBuildkitExited,
                 After(line, "buildkit process has exited with code ", " \"\\"));
  }
  if (Contains(line, "TLS is not enabled for tcp://")) {
    // BuildKit: "TLS is not enabled for tcp://0.0.0.0:8372. enabling mutual TLS ...".
    std::string address = After(line, "TLS is not enabled for tcp://", " \"\\,");
    while (!address.empty() && address.back() == '.') address.pop_back();
    return Event(LogEventKind::kTlsDisabled, "tcp://" + address);
  }
  if (Contains(line, "Resetting dir ")) {
    return Event(LogEventKind::kCacheReset, After(line, "Resetting dir "));
  }
  if (Contains(line, "clamping cache size to ")) {
    return Event(LogEventKind::kCacheSizeClamped, After(line, "clamping cache size to "));
  }
  if (Contains(line, "cache size set automatically to ")) {
    return Event(LogEventKind::kCacheSizeAuto,
                 After(line, "cache size set automatically to ", ";"));
  }
  return std::nullopt;
}

std::optional<std::uint64_t> EntrypointCacheSizeMb(std::string_view line) {
  auto number = [](std::string_view digits) -> std::optional<std::uint64_t> {
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
      return std::nullopt;
    }
    return v;
  };
  for (std::string_view marker : {"cache size set automatically to ", "clamping cache size to "}) {
    const auto at = line.find(marker);
    if (at == std::string_view::npos) continue;
    std::string_view rest = line.substr(at + marker.size());
    const auto space = rest.find(' ');
    if (space == std::string_view::npos || !rest.substr(space + 1).starts_with("MB")) {
      return std::nullopt;
    }
    return number(rest.substr(0, space));
  }
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
  constexpr std::string_view kVariable = "CACHE_SIZE_MB=";
  if (!line.starts_with(kVariable)) return std::nullopt;
  return number(line.substr(kVariable.size()));
}

std::optional<LogMatch> LogMatcher::Next(std::string_view line) {
  auto match = MatchLogLine(line);
  if (match && match->kind == LogEventKind::kPanic) {
    panic_lines_left_ = kPanicFrameLines;
    panic_line_ = match->detail;
    return match;
  }
  if (panic_lines_left_ > 0) {
    --panic_lines_left_;
    if (IsCacheFrame(line)) {
      panic_lines_left_ = 0;
      // One event for the corruption: a line that is an event itself still counts as that too.
      if (!match) return Event(LogEventKind::kCacheCorrupted, "panic: " + panic_line_);
    }
  }
  return match;
}

}  // namespace cachewarden
