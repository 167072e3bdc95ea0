// libFuzzer target: the log follower's byte input (plain and CRI lines, RFC 3339 times, P/F
// joining, long lines), fed as a file that grows over several polls, and the pattern matchers
// (LogMatcher, with its panic state) on every line it delivers. The first input byte picks the
// format and the chunking.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "probes/log_follower.h"
#include "probes/log_patterns.h"

namespace {

std::string LogPath() {
  static const std::string path = [] {
    char dir[] = "/tmp/cachewarden-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) abort();
    return std::string(dir) + "/buildkitd.log";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cachewarden;
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string path = LogPath();
  ::unlink(path.c_str());
  LogFollowerOptions options;
  options.path = path;
  options.format = static_cast<LogLineFormat>(control % 3);
  options.start_at_end = false;
  options.max_line_bytes = 64 + (control >> 2);  // small, so that truncation is exercised
  LogFollower follower(options);
  LogMatcher matcher;  // what spans lines: a panic and the frames after it
  auto sink = [&matcher](LogLine&& line) {
    (void)matcher.Next(line.text);
    (void)ParseRfc3339(line.text);
  };
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) abort();
  // Chunks as small as a byte split lines and CRI fields across polls; at most about 16 polls an
  // input keeps a long input from costing thousands of them.
  const std::size_t chunk = std::max<std::size_t>(1 + (control >> 4) * 7, input.size() / 16);
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    const std::string_view piece = input.substr(at, chunk);
    if (::write(fd, piece.data(), piece.size()) != static_cast<ssize_t>(piece.size())) abort();
    (void)follower.Poll(sink);
  }
  ::close(fd);
  (void)follower.Poll(sink);
  (void)ParseRfc3339(input);
  return 0;
}
