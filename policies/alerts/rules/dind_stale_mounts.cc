#include "policies/alerts/rules/dind_stale_mounts.h"

#include <fmt/format.h>

#include <set>

#include "policies/alerts/rule_support.h"
#include "probes/dind.h"
#include "probes/logs.h"

namespace cachewarden {
namespace {

// Entries that buildkitd's log says `rm` could not remove.
std::set<std::string> BusyEntries(const Snapshot& s) {
  std::set<std::string> out;
  auto l = s.Get<LogsData>();
  if (l == nullptr) return out;
  for (const auto& e : l->recent) {
    if (e.kind == LogEventKind::kDindBusy) out.insert(e.entry_id);
  }
  return out;
}

}  // namespace

constinit const RuleDef kDindStaleMounts = {
    .name = "DindStaleMounts",
    .default_for = std::chrono::minutes(10),
    .default_keep_firing_for = std::chrono::seconds(0),
    .params = {},
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractStaleMounts, &DecideStaleMounts>,
};

std::optional<StaleMountsInput> ExtractStaleMounts(const Snapshot& s, SystemTime) {
  auto d = s.Get<DindData>();
  if (d == nullptr) return std::nullopt;
  StaleMountsInput in;
  in.path = d->dirs.empty() ? CachePath(s) : d->dirs.front();
  in.mounts = d->mounts.size();
  const auto busy = BusyEntries(s);
  for (const auto& m : d->mounts) {
    const bool rm_failed = busy.contains(m.mount.entry_id);
    if (m.stale || rm_failed) in.stale.push_back({m.mount, rm_failed});
  }
  return in;
}

void DecideStaleMounts(const StaleMountsInput& in, const RuleConfig&, RuleOutcome* out) {
  const std::size_t n = in.stale.size();
  Candidate cand = MakeCandidate(Severity::kWarning, n > 0, false, static_cast<double>(n));
  if (n > 0) {
    const DindMount& m = in.stale.front().mount;
    cand.summary = fmt::format(
        "{} stale mount(s) under {}, e.g. {} ({}) on entry {}, held in the {} mount namespace {} "
        "by pid {} ({})",
        n, in.path, m.mount_point, m.fstype, m.entry_id, m.own_namespace ? "agent's own" : "other",
        m.mount_ns, m.pid, m.command);
    cand.description = fmt::format(
        "{} mount(s) under the dind directory {} outlived their build{}. They make `rm` of dind "
        "entries fail with \"Device or resource busy\" and keep their data on disk. When no build "
        "runs, unmount them (`nsenter -t {} -m umount -l {}`) and remove the entry, or restart "
        "buildkitd, which wipes dind/ at start.",
        n, in.path, in.stale.front().rm_failed ? " (buildkitd's log shows `rm` failing on it)" : "",
        m.pid, m.mount_point);
  } else {
    cand.summary = fmt::format("No stale mounts under {}", in.path);
  }
  out->candidates.push_back(std::move(cand));
  out->ok_summary = in.mounts == 0
                        ? fmt::format("No mounts under {}", in.path)
                        : fmt::format("{} mount(s) under {}, none stale", in.mounts, in.path);
}

}  // namespace cachewarden
