#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "policies/alerts/rule.h"
#include "policies/alerts/rule_support.h"

namespace cachewarden {

// Rules on one kind of line in buildkitd's log, firing while the latest one is within the rule's
// `window` (as the Prometheus rules' increase(...[15m]) > 0):
// DindCleanupResourceBusy: `rm` of a dind entry failed with "Resource busy".
extern const RuleDef kDindCleanupResourceBusy;
// CacheNoSpaceErrors: "no space left on device".
extern const RuleDef kCacheNoSpaceErrors;
// BuildkitCacheCorrupted (critical): the cache's metadata is damaged (a cache key's state is gone,
// bbolt's freelist is invalid, or buildkitd panicked in bolt or a snapshotter).
extern const RuleDef kBuildkitCacheCorrupted;

// A kind of log event: how long ago the last one was, how many there were, an example.
struct LogEventInput {
  std::string path;  // the cache, for the texts
  double seconds_since_last = kNever;
  std::string last_line;      // an example for the description; may be empty
  std::uint64_t count = 0;    // since the logs probe started reading
  std::string last_entry_id;  // the dind entry `rm` failed on (dind_busy only)
  std::string last_path;      // the path `rm` failed on (dind_busy only)
  std::size_t files = 0;      // log files followed
  std::string last_detail;    // the latest event's figure (the panic line), may be empty
};

// Need the logs probe's data.
std::optional<LogEventInput> ExtractResourceBusy(const Snapshot& s, SystemTime now);
std::optional<LogEventInput> ExtractNoSpace(const Snapshot& s, SystemTime now);
std::optional<LogEventInput> ExtractCacheCorrupted(const Snapshot& s, SystemTime now);
void DecideResourceBusy(const LogEventInput& in, const RuleConfig& c, RuleOutcome* out);
void DecideNoSpace(const LogEventInput& in, const RuleConfig& c, RuleOutcome* out);
void DecideCacheCorrupted(const LogEventInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
