#include "policies/alerts/severity.h"

namespace cachewarden {

int SeverityRank(Severity s) {
  switch (s) {
    case Severity::kOk:
      return 0;
    case Severity::kWarning:
      return 1;
    case Severity::kUnknown:
      return 2;
    case Severity::kCritical:
      return 3;
  }
  return 2;
}

Severity Worst(const std::vector<Finding>& findings) {
  Severity worst = Severity::kOk;
  for (const auto& f : findings) {
    if (SeverityRank(f.severity) > SeverityRank(worst)) worst = f.severity;
  }
  return worst;
}

}  // namespace cachewarden
