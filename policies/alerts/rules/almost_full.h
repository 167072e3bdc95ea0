#pragma once

#include <optional>
#include <string>

#include "policies/alerts/rule.h"

namespace cachewarden {

// CacheDiskAlmostFull and CacheInodesAlmostFull: the bytes (as `df` counts them) or the inodes of
// the cache filesystem are used beyond `warning_percent` or `critical_percent`, and keep firing
// until they drop `hysteresis_percent` below. Twins: one decider shape for two figures.
extern const RuleDef kCacheDiskAlmostFull;
extern const RuleDef kCacheInodesAlmostFull;

// Bytes or inodes of the cache filesystem.
struct UsageInput {
  std::string path;
  double used_percent = 0;  // 0..100
  double used = 0;          // bytes or inodes
  double total = 0;
  double available = 0;  // to BuildKit: bytes as statvfs f_bavail, or free inodes
};

// Needs the volume probe's data (and, for inodes, a filesystem that reports an inode limit).
std::optional<UsageInput> ExtractDiskUsage(const Snapshot& s, SystemTime now);
std::optional<UsageInput> ExtractInodeUsage(const Snapshot& s, SystemTime now);
void DecideDiskAlmostFull(const UsageInput& in, const RuleConfig& c, RuleOutcome* out);
void DecideInodesAlmostFull(const UsageInput& in, const RuleConfig& c, RuleOutcome* out);

}  // namespace cachewarden
