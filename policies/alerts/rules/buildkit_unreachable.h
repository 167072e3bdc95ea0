#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// BuildkitUnreachable (warning, after `for`, 5m by default): a configured BuildKit address did not
// answer the buildkit probe (cachewarden_buildkit_up 0), so the BuildKit figures, the rules on them
// and the `prune` GC action are blind or idle. Labelled `address`.
extern const RuleDef kBuildkitUnreachable;

struct UnreachableInput {
  struct Address {
    std::string address;
    bool up = false;
    std::string reason;  // Status::reason() when down
    std::string error;   // the message when down
  };
  std::vector<Address> addresses;  // those the latest run tried, in order
};

// Known once the buildkit probe has run and said which addresses it tried (a run cut off by the
// probe's own timeout says nothing of them: CacheProbeFailing covers it).
std::optional<UnreachableInput> ExtractUnreachable(const Snapshot& s, SystemTime now);
void DecideUnreachable(const UnreachableInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
