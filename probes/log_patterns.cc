#include "probes/log_patterns.h"

#include <algorithm>
#include <cctype>

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

}  // namespace

std::optional<LogMatch> MatchLogLine(std::string_view line) {
  if (auto path = BusyRmPath(line)) {
    // The dind path may appear truncated or shell-quoted; the entry id is what a person needs, so
    // an rm failure outside dind/ is not ours.
    if (auto id = DindEntryId(*path)) {
      return LogMatch{LogEventKind::kDindBusy, std::string(*path), *id};
    }
  }
  if (Contains(line, "overlayfs is not available") || Contains(line, "not supported as upperdir")) {
    return LogMatch{LogEventKind::kSnapshotterFallback, {}, {}};
  }
  if (ContainsNoCase(line, "no space left on device")) {
    return LogMatch{LogEventKind::kDiskFull, {}, {}};
  }
  if (ContainsNoCase(line, "input/output error")) {
    return LogMatch{LogEventKind::kIoError, {}, {}};
  }
  if (Contains(line, "gc error:")) return LogMatch{LogEventKind::kGcError, {}, {}};
  if (Contains(line, "======== Buildkitd config ==========") ||
      Contains(line, "running server on ")) {
    return LogMatch{LogEventKind::kBuildkitdStart, {}, {}};
  }
  return std::nullopt;
}

}  // namespace cachewarden
