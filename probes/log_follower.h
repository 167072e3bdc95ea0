#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/enum_names.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace cachewarden {

enum class LogLineFormat {
  kAuto,   // decided from the file's first line
  kPlain,  // one message per line
  kCri,    // "<RFC3339 time> <stdout|stderr> <P|F> <text>"; P lines are joined
};
// A file's `format` in the logs probe's config, and the detected format in its JSON.
inline constexpr EnumName<LogLineFormat> kLogLineFormatNames[] = {
    {LogLineFormat::kAuto, "auto"},
    {LogLineFormat::kPlain, "plain"},
    {LogLineFormat::kCri, "cri"},
};
constexpr std::string_view ToString(LogLineFormat f) {
  return NameIn<LogLineFormat>(kLogLineFormatNames, f);
}

struct LogFollowerOptions {
  std::string path;
  LogLineFormat format = LogLineFormat::kAuto;
  // Where to start in a file that exists at the first poll. A file that appears later, or replaces
  // a rotated one, is always read from its start.
  bool start_at_end = true;
  // A message longer than this is cut to it (and counted); the rest of it is read and dropped,
  // never buffered.
  std::size_t max_line_bytes = 64 * 1024;
  // At most this much is read per Poll(); the rest waits for the next one.
  std::size_t max_read_bytes = 64 << 20;

  bool operator==(const LogFollowerOptions&) const = default;
};

struct LogLine {
  std::string text;  // without the newline (and the CRI prefix)
  bool truncated = false;
  std::optional<SystemTime> time;  // the CRI timestamp, if any
};

struct LogFollowerStats {
  std::uint64_t lines = 0;
  std::uint64_t truncated_lines = 0;
  std::uint64_t rotations = 0;    // a new file at the path (rename or delete)
  std::uint64_t truncations = 0;  // the file shrank (copytruncate)
  std::uint64_t bytes_read = 0;
  bool open = false;     // a file is open
  bool missing = false;  // nothing at the path at the last poll
  LogLineFormat detected = LogLineFormat::kAuto;
};

// Follows one log file across rotation by rename, copytruncate, deletion and re-creation, and a
// file that does not exist yet, like `tail -F`: every line is delivered once. Pure file reading
// driven by Poll(); no threads, no inotify. Not thread-safe: one caller (the logs probe's worker
// thread).
//
// Known limit, shared with every poller: after a copytruncate, if the file has grown past the old
// read offset again before the next poll, and the byte before that offset happens to be a newline,
// the new lines before it are missed.
class LogFollower {
 public:
  explicit LogFollower(LogFollowerOptions options);
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  // Reads what was written since the last poll and calls `sink` for each complete message, in
  // order. A missing file is not an error.
  Status Poll(const std::function<void(LogLine&&)>& sink);

  const LogFollowerStats& stats() const { return stats_; }
  const LogFollowerOptions& options() const { return options_; }

 private:
  struct Assembly;  // a message being assembled, bounded
  Status Open(bool at_end);
  void Close();
  // Reads the open file to EOF (or the budget); false when the budget ran out.
  bool Drain(std::size_t* budget, const std::function<void(LogLine&&)>& sink, Status* error);
  void TakeBytes(std::string_view data, const std::function<void(LogLine&&)>& sink);
  void EndPhysicalLine(const std::function<void(LogLine&&)>& sink);
  void Emit(Assembly& a, std::optional<SystemTime> time,
            const std::function<void(LogLine&&)>& sink);

  LogFollowerOptions options_;
  LogFollowerStats stats_;
  UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  char last_byte_ = 0;            // the byte at offset_-1, to notice a rewrite
  bool polled_ = false;           // start_at_end applies to the first poll only
  bool skip_to_newline_ = false;  // started mid-line: drop up to the next newline
  struct AssemblyDeleter {
    void operator()(Assembly* a) const;
  };
  std::unique_ptr<Assembly, AssemblyDeleter> physical_;  // current raw line
  std::unique_ptr<Assembly, AssemblyDeleter> cri_[2];    // P parts per stream
};

// "2024-01-10T13:30:15.123456789Z" or with a "+02:00" offset; nullopt if not
// RFC 3339.
std::optional<SystemTime> ParseRfc3339(std::string_view text);

}  // namespace cachewarden
