#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.h"

namespace cachewarden {

// Monitoring-plugin order: the exit code of `check` is the value.
enum class Severity { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };

// The `severity` label of an alert, and the word `check` prints.
inline constexpr EnumName<Severity> kSeverityNames[] = {
    {Severity::kOk, "ok"},
    {Severity::kWarning, "warning"},
    {Severity::kCritical, "critical"},
    {Severity::kUnknown, "unknown"},
};
constexpr std::string_view SeverityName(Severity s) { return NameIn<Severity>(kSeverityNames, s); }

// One thing `check` tells a person: what is wrong, and what to do about it.
struct Finding {
  Severity severity = Severity::kOk;
  std::string source;   // the probe or rule that raised it
  std::string summary;  // one sentence, with the figure
  std::string remedy;   // one or two sentences; may be empty
};

// How bad a severity is, for ordering: ok 0 < warning 1 < unknown 2 < critical 3 (we could not tell
// is worse than a warning, but a known critical is worse still).
int SeverityRank(Severity s);

// The worst of the findings by SeverityRank, kOk if there are none.
Severity Worst(const std::vector<Finding>& findings);

}  // namespace cachewarden
