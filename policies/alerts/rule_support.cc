#include "policies/alerts/rule_support.h"

#include <algorithm>
#include <cmath>

#include "base/units.h"
#include "probes/volume.h"

namespace cachewarden {

double SecondsSince(SystemTime t, SystemTime now) {
  if (t == SystemTime{}) return kNever;
  return std::chrono::duration<double>(now - t).count();
}

std::string DurationText(double seconds) {
  if (std::isinf(seconds)) return "never";
  return FormatDuration(std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(std::round(std::max(0.0, seconds)))));
}

Candidate MakeCandidate(Severity severity, bool fires, bool holds, double value) {
  Candidate c;
  c.severity = severity;
  c.fires = fires;
  c.holds = fires || holds;
  c.value = value;
  return c;
}

std::string CachePath(const Snapshot& s) {
  auto v = s.Get<VolumeData>();
  return v ? v->path : std::string();
}

}  // namespace cachewarden
