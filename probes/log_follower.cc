#include "probes/log_follower.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <ctime>

namespace cachewarden {

struct LogFollower::Assembly {
  std::string text;
  bool truncated = false;
  bool active = false;
  void Add(std::string_view data, std::size_t bound) {
    active = true;
    std::size_t room = text.size() < bound ? bound - text.size() : 0;
    if (data.size() > room) truncated = true;
    text.append(data.substr(0, room));
  }
  void Reset() {
    text.clear();
    truncated = false;
    active = false;
  }
};

void LogFollower::AssemblyDeleter::operator()(Assembly* a) const { delete a; }

namespace {

constexpr std::size_t kCriPrefixRoom = 128;  // "<time> <stream> <tag> "

template <typename T>
bool Digits(std::string_view s, T* out) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return std::from_chars(s.data(), s.data() + s.size(), *out).ec == std::errc();
}

struct CriParts {
  int stream = 0;  // 0 stdout, 1 stderr
  bool partial = false;
  std::optional<SystemTime> time;
  std::string_view text;
};

std::optional<CriParts> ParseCri(std::string_view line) {
  auto s1 = line.find(' ');
  if (s1 == std::string_view::npos) return std::nullopt;
  auto s2 = line.find(' ', s1 + 1);
  if (s2 == std::string_view::npos) return std::nullopt;
  auto s3 = line.find(' ', s2 + 1);
  std::string_view tag =
      s3 == std::string_view::npos ? line.substr(s2 + 1) : line.substr(s2 + 1, s3 - s2 - 1);
  CriParts p;
  p.time = ParseRfc3339(line.substr(0, s1));
  if (!p.time) return std::nullopt;
  auto stream = line.substr(s1 + 1, s2 - s1 - 1);
  if (stream != "stdout" && stream != "stderr") return std::nullopt;
  p.stream = stream == "stderr" ? 1 : 0;
  // Tags are ":"-separated; the first is P (partial) or F (full).
  auto first = tag.substr(0, tag.find(':'));
  if (first != "P" && first != "F") return std::nullopt;
  p.partial = first == "P";
  p.text = s3 == std::string_view::npos ? std::string_view() : line.substr(s3 + 1);
  return p;
}

}  // namespace

std::optional<SystemTime> ParseRfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') ||
      t[13] != ':' || t[16] != ':') {
    return std::nullopt;
  }
  std::tm tm{};
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (!Digits(t.substr(0, 4), &year) || !Digits(t.substr(5, 2), &mon) ||
      !Digits(t.substr(8, 2), &day) || !Digits(t.substr(11, 2), &hour) ||
      !Digits(t.substr(14, 2), &min) || !Digits(t.substr(17, 2), &sec)) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  std::size_t i = 19;
  long long nanos = 0;
  if (i < t.size() && t[i] == '.') {
    std::size_t start = ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == start) return std::nullopt;
    std::string_view frac = t.substr(start, std::min<std::size_t>(i - start, 9));
    Digits(frac, &nanos);
    for (std::size_t k = frac.size(); k < 9; ++k) nanos *= 10;
  }
  long offset = 0;
  if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
    ++i;
  } else if (i + 6 == t.size() && (t[i] == '+' || t[i] == '-') && t[i + 3] == ':') {
    int oh = 0, om = 0;
    if (!Digits(t.substr(i + 1, 2), &oh) || !Digits(t.substr(i + 4, 2), &om)) {
      return std::nullopt;
    }
    offset = (t[i] == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != t.size()) return std::nullopt;
  const time_t secs = timegm(&tm) - offset;
  // SystemTime counts nanoseconds in 64 bits, about 1677 to 2262: a year beyond that (found by
  // log_follower_fuzz, "4048-...") is not a time this agent can hold, so not a timestamp.
  constexpr auto kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(SystemTime::duration::max()).count() - 1;
  if (secs > kLimit || secs < -kLimit) return std::nullopt;
  return SystemTime(std::chrono::seconds(secs)) +
         std::chrono::duration_cast<SystemTime::duration>(std::chrono::nanoseconds(nanos));
}

LogFollower::LogFollower(LogFollowerOptions options)
    : options_(std::move(options)),
      physical_(new Assembly),
      cri_{std::unique_ptr<Assembly, AssemblyDeleter>(new Assembly),
           std::unique_ptr<Assembly, AssemblyDeleter>(new Assembly)} {
  stats_.detected = options_.format;
}

LogFollower::~LogFollower() { Close(); }

void LogFollower::Close() {
  fd_.Reset();
  stats_.open = false;
}

Status LogFollower::Open(bool at_end) {
  UniqueFd fd(::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return PosixError("open", options_.path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return PosixError("fstat", options_.path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Status::Error(StatusCode::kIo, "not a regular file", 0, options_.path);
  }
  fd_ = std::move(fd);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  offset_ = at_end ? st.st_size : 0;
  last_byte_ = 0;
  if (offset_ > 0 && ::pread(fd_.get(), &last_byte_, 1, offset_ - 1) != 1) offset_ = 0;
  // Starting at the end of a line in progress: its head is not ours.
  skip_to_newline_ = offset_ > 0 && last_byte_ != '\n';
  stats_.open = true;
  stats_.missing = false;
  return Status::Ok();
}

void LogFollower::Emit(Assembly& a, std::optional<SystemTime> time,
                       const std::function<void(LogLine&&)>& sink) {
  LogLine line;
  line.text = std::move(a.text);
  line.truncated = a.truncated;
  line.time = time;
  a.Reset();
  ++stats_.lines;
  if (line.truncated) ++stats_.truncated_lines;
  sink(std::move(line));
}

void LogFollower::EndPhysicalLine(const std::function<void(LogLine&&)>& sink) {
  Assembly& raw = *physical_;
  if (stats_.detected == LogLineFormat::kAuto) {
    if (raw.text.empty()) {
      raw.Reset();
      return;  // decide on the first line with something in it
    }
    stats_.detected = ParseCri(raw.text) ? LogLineFormat::kCri : LogLineFormat::kPlain;
  }
  if (stats_.detected == LogLineFormat::kCri) {
    if (auto p = ParseCri(raw.text)) {
      Assembly& msg = *cri_[p->stream];
      msg.Add(p->text, options_.max_line_bytes);
      msg.truncated = msg.truncated || raw.truncated;
      raw.Reset();
      if (!p->partial) Emit(msg, p->time, sink);
      return;
    }
  }
  if (raw.text.size() > options_.max_line_bytes) {
    raw.text.resize(options_.max_line_bytes);
    raw.truncated = true;
  }
  Emit(raw, std::nullopt, sink);
}

void LogFollower::TakeBytes(std::string_view data, const std::function<void(LogLine&&)>& sink) {
  // Room for a CRI prefix besides the message; plain lines are cut to the bound when they end.
  const std::size_t bound = options_.max_line_bytes + kCriPrefixRoom;
  while (!data.empty()) {
    auto nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    if (skip_to_newline_) {
      if (nl != std::string_view::npos) skip_to_newline_ = false;
    } else {
      physical_->Add(piece, bound);
      if (nl != std::string_view::npos) EndPhysicalLine(sink);
    }
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
}

bool LogFollower::Drain(std::size_t* budget, const std::function<void(LogLine&&)>& sink,
                        Status* error) {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) {
    *error = PosixError("fstat", options_.path, errno);
    return false;
  }
  bool rewritten = st.st_size < offset_;
  if (!rewritten && offset_ > 0) {
    char b = 0;
    rewritten = ::pread(fd_.get(), &b, 1, offset_ - 1) == 1 && b != last_byte_;
  }
  if (rewritten) {
    // copytruncate: the file was emptied (and maybe written again) under us.
    ++stats_.truncations;
    offset_ = 0;
    skip_to_newline_ = false;
    physical_->Reset();
  }
  char buf[64 * 1024];
  while (*budget > 0) {
    ssize_t n = ::pread(fd_.get(), buf, std::min(sizeof buf, *budget), offset_);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = PosixError("read", options_.path, errno);
      return false;
    }
    if (n == 0) return true;
    auto got = static_cast<std::size_t>(n);
    TakeBytes(std::string_view(buf, got), sink);
    offset_ += n;
    last_byte_ = buf[got - 1];
    stats_.bytes_read += got;
    *budget -= got;
  }
  return false;
}

Status LogFollower::Poll(const std::function<void(LogLine&&)>& sink) {
  const bool first = !polled_;
  polled_ = true;
  std::size_t budget = options_.max_read_bytes;
  Status error;
  if (!fd_.valid()) {
    Status s = Open(first && options_.start_at_end);
    if (!s.ok()) {
      stats_.missing = s.code() == StatusCode::kMissing;
      return stats_.missing ? Status::Ok() : s;
    }
  }
  if (!Drain(&budget, sink, &error)) return error;
  struct stat st {};
  if (::stat(options_.path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      // Renamed or deleted and not (yet) replaced: keep reading the old file.
      stats_.missing = true;
      return Status::Ok();
    }
    return PosixError("stat", options_.path, errno);
  }
  stats_.missing = false;
  if (st.st_dev == dev_ && st.st_ino == ino_) return Status::Ok();
  // A new file at the path: the old one is read to its end; its last line, if unterminated, is
  // complete now.
  if (physical_->active) EndPhysicalLine(sink);
  skip_to_newline_ = false;
  Close();
  ++stats_.rotations;
  Status s = Open(false);
  if (!s.ok()) return s.code() == StatusCode::kMissing ? Status::Ok() : s;
  if (!Drain(&budget, sink, &error)) return error;
  return Status::Ok();
}

}  // namespace cachewarden
