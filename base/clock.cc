#include "base/clock.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>

namespace cachewarden {

const RealClock& RealClock::Get() {
  static const RealClock clock;
  return clock;
}

std::string Rfc3339(SystemTime t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", tm,
                     static_cast<int>(ms - static_cast<std::int64_t>(secs) * 1000));
}

double ToUnixSeconds(SystemTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

Duration ThreadCpuTime() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return {};
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

std::uint64_t TimerMs(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return static_cast<std::uint64_t>(ms < 1 ? 1 : ms);
}

SystemTime ToSystemTime(std::int64_t sec, std::int64_t nsec) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::seconds(sec) + std::chrono::nanoseconds(nsec)));
}

}  // namespace cachewarden
