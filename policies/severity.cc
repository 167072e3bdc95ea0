#include "policies/severity.h"

namespace cachewarden {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kOk:
      return "ok";
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
    case Severity::kUnknown:
      return "unknown";
  }
  return "unknown";
}

Severity Worst(const std::vector<Finding>& findings) {
  bool warning = false, unknown = false;
  for (const auto& f : findings) {
    if (f.severity == Severity::kCritical) return Severity::kCritical;
    warning = warning || f.severity == Severity::kWarning;
    unknown = unknown || f.severity == Severity::kUnknown;
  }
  if (unknown) return Severity::kUnknown;
  return warning ? Severity::kWarning : Severity::kOk;
}

}  // namespace cachewarden
