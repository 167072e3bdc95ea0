#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policies/alerts/rule.h"

namespace cachewarden {

// DindLeftoversLarge: entries of the dind directories that are not cache_* and untouched for the
// dind probe's `leftover_age` hold more than `max_size` or number more than `max_entries`. Fewer
// are normal (a cancelled build's), and `check` reports them as an OK line.
extern const RuleDef kDindLeftoversLarge;

struct LeftoversInput {
  std::string path;  // the (first) dind directory
  double bytes = 0;
  double entries = 0;
  double leftover_age_seconds = 0;  // what makes an entry a leftover
  struct Entry {
    std::string name;
    double bytes = 0;
    double idle_seconds = 0;  // since anything in it was last modified
  };
  // The largest leftovers, largest first, at most kNamedLeftovers: the texts name them.
  std::vector<Entry> largest;
};

// How many leftover entries the texts name; the rest are counted.
inline constexpr std::size_t kNamedLeftovers = 3;

// Needs the dind probe's data.
std::optional<LeftoversInput> ExtractLeftovers(const Snapshot& s, SystemTime now);
void DecideLeftovers(const LeftoversInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
