#include "policies/alerts/alert_rules.h"

namespace cachewarden {

std::span<const RuleDef> RuleTable() {
  // Copies of each rule's row, made on first use: the rows are constant-initialized (constinit), so
  // this is safe from any static initializer too.
  static const RuleDef kRules[] = {
      kCacheNotOnVolume,
      kCacheDiskAlmostFull,
      kCacheInodesAlmostFull,
      kCacheDiskFillingUp,
      kCacheIOLatencyHigh,
      kDindStaleMounts,
      kDindCleanupResourceBusy,
      kDindLeftoversLarge,
      kBuildkitSnapshotterFallback,
      kCacheGCIneffective,
      kCacheIOErrors,
      kCacheProbeFailing,
      kCacheNoSpaceErrors,
      kBuildkitPlaintextTCP,
      kBuildkitNoClientAuth,
      kBuildkitCertExpiring,
      kBuildkitCertNotReloaded,
      kBuildkitDebugPortOpen,
      kBuildkitGCCapAboveVolume,
      kBuildkitUnaccountedLarge,
      kBuildkitCacheCorrupted,
      kBuildkitOOMKilled,
      kBuildkitRestarting,
      kBuildkitEnvUnread,
      kBuildkitUnreachable,
      kBuildkitGCFailing,
      kBuildkitParallelismSaturated,
  };
  return kRules;
}

const RuleDef* FindRule(std::string_view name) {
  for (const auto& r : RuleTable()) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

}  // namespace cachewarden
