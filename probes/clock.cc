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

}  // namespace cachewarden
