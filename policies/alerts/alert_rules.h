#pragma once

#include <span>
#include <string_view>

#include "policies/alerts/rule.h"
#include "policies/alerts/rules/almost_full.h"
#include "policies/alerts/rules/buildkit_env_unread.h"
#include "policies/alerts/rules/buildkit_gc_cap.h"
#include "policies/alerts/rules/buildkit_gc_failing.h"
#include "policies/alerts/rules/buildkit_oom_killed.h"
#include "policies/alerts/rules/buildkit_parallelism.h"
#include "policies/alerts/rules/buildkit_restarting.h"
#include "policies/alerts/rules/buildkit_unaccounted.h"
#include "policies/alerts/rules/buildkit_unreachable.h"
#include "policies/alerts/rules/cert_expiring.h"
#include "policies/alerts/rules/cert_not_reloaded.h"
#include "policies/alerts/rules/debug_port_open.h"
#include "policies/alerts/rules/dind_leftovers.h"
#include "policies/alerts/rules/dind_stale_mounts.h"
#include "policies/alerts/rules/filling_up.h"
#include "policies/alerts/rules/gc_ineffective.h"
#include "policies/alerts/rules/io_errors.h"
#include "policies/alerts/rules/io_latency.h"
#include "policies/alerts/rules/log_events.h"
#include "policies/alerts/rules/no_client_auth.h"
#include "policies/alerts/rules/not_on_volume.h"
#include "policies/alerts/rules/plaintext_tcp.h"
#include "policies/alerts/rules/probe_failing.h"
#include "policies/alerts/rules/snapshotter_fallback.h"

namespace cachewarden {

// Every built-in rule, in the order `check` lists them and /metrics exports them. Add a rule: a
// file pair under rules/ (see rule.h), one row in alert_rules.cc, a Prometheus rule of the same
// name in deploy/prometheus/cachewarden-rules.yml, and its line in docs/config.md.
std::span<const RuleDef> RuleTable();
const RuleDef* FindRule(std::string_view name);

}  // namespace cachewarden
