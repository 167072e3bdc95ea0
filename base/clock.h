#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace cachewarden {

using SystemTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

// Wall-clock time source. Probes and policies take a Clock so that tests can drive time by hand.
// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime Now() const = 0;
};

class RealClock : public Clock {
 public:
  SystemTime Now() const override { return std::chrono::system_clock::now(); }
  // The process-wide instance.
  static const RealClock& Get();
};

// A clock that only moves when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(SystemTime start = SystemTime(std::chrono::seconds(1'700'000'000)))
      : now_ns_(start.time_since_epoch().count()) {}
  SystemTime Now() const override { return SystemTime(SystemTime::duration(now_ns_.load())); }
  void Advance(Duration d) {
    now_ns_ += std::chrono::duration_cast<SystemTime::duration>(d).count();
  }
  void Set(SystemTime t) { now_ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<SystemTime::rep> now_ns_;
};

// Seconds since the epoch as a double, the unit of every *_timestamp_seconds metric.
double ToUnixSeconds(SystemTime t);
// Seconds as a double.
double ToSeconds(Duration d);
// CPU time (user and system) the calling thread has used so far (CLOCK_THREAD_CPUTIME_ID; 0 if it
// cannot be read).
Duration ThreadCpuTime();
// Whole milliseconds for a libuv timer, at least 1 (0 would mean "no repeat").
std::uint64_t TimerMs(Duration d);
// The time `sec` seconds and `nsec` nanoseconds after the epoch, as statx and struct stat give it.
SystemTime ToSystemTime(std::int64_t sec, std::int64_t nsec);
// "2026-11-28T12:34:56.789Z": UTC, milliseconds; what logs, /status and
// Alertmanager get.
std::string Rfc3339(SystemTime t);

}  // namespace cachewarden
