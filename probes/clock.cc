#include "probes/clock.h"

namespace cachewarden {

const RealClock& RealClock::Get() {
  static const RealClock clock;
  return clock;
}

double ToUnixSeconds(SystemTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::uint64_t TimerMs(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return static_cast<std::uint64_t>(ms < 1 ? 1 : ms);
}

SystemTime ToSystemTime(std::int64_t sec, std::int64_t nsec) {
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::seconds(sec) + std::chrono::nanoseconds(nsec)));
}

}  // namespace cachewarden
