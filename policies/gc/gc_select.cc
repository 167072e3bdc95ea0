#include "policies/gc/gc_select.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>

namespace cachewarden {
namespace {

double Pct(double ratio) { return ratio * 100.0; }

std::string SizeText(const SizeSpec& s) {
  return s.percent ? fmt::format("{}%", s.value) : HumanBytes(s.value);
}

// Fills plan->triggers and the byte/inode targets from the volume and the policy's own total.
void EvaluateVolumeTriggers(const GcTriggers& t, const VolumeData* v, std::uint64_t own_total,
                            GcPlan* plan) {
  auto want_bytes = [&](std::uint64_t b) { plan->need_bytes = std::max(plan->need_bytes, b); };
  if (v != nullptr) {
    std::uint64_t used = v->size_bytes > v->free_bytes ? v->size_bytes - v->free_bytes : 0;
    std::uint64_t total = used + v->avail_bytes;  // df's total
    if (t.used_above) {
      std::uint64_t high = t.used_above->Resolve(total);
      if (used > high) {
        // A low mark above the high one (mixed units: "85%" and "100GiB") counts as the high mark:
        // free down to it, never "nothing".
        std::uint64_t low = std::min(t.until_below->Resolve(total), high);
        plan->triggers.push_back(fmt::format("used {} ({:.1f}%) > {}", HumanBytes(used),
                                             Pct(v->UsedRatio()), SizeText(*t.used_above)));
        want_bytes(used > low ? used - low : 0);
      }
    }
    if (t.free_below) {
      std::uint64_t floor = t.free_below->Resolve(total);
      if (v->avail_bytes < floor) {
        plan->triggers.push_back(
            fmt::format("available {} < {}", HumanBytes(v->avail_bytes), SizeText(*t.free_below)));
        want_bytes(floor - v->avail_bytes);
      }
    }
    if (t.inodes_used_above && v->files > 0) {
      std::uint64_t used_inodes = v->files > v->files_free ? v->files - v->files_free : 0;
      std::uint64_t high = t.inodes_used_above->Resolve(v->files);
      if (used_inodes > high) {
        std::uint64_t low = std::min(t.inodes_until_below->Resolve(v->files), high);
        plan->triggers.push_back(fmt::format("inodes used {:.1f}% > {}", Pct(v->InodesUsedRatio()),
                                             SizeText(*t.inodes_used_above)));
        plan->need_inodes = used_inodes > low ? used_inodes - low : 0;
      }
    }
  }
  if (t.total_above) {
    std::uint64_t volume_total = v != nullptr ? v->size_bytes : 0;
    if (t.total_above->percent && v == nullptr) return;  // cannot resolve
    std::uint64_t cap = t.total_above->Resolve(volume_total);
    if (own_total > cap) {
      plan->triggers.push_back(
          fmt::format("entries total {} > {}", HumanBytes(own_total), SizeText(*t.total_above)));
      want_bytes(own_total - cap);
    }
  }
}

Duration Age(SystemTime now, SystemTime newest) {
  return now > newest ? Duration(now - newest) : Duration(0);
}

}  // namespace

std::string ForeignMountReason(const std::string& foreign_mount) {
  return "a mount point inside in another mount namespace: " + foreign_mount +
         " (unmount_stale detaches only the agent's own)";
}

bool GcNameIncluded(const GcPolicy& policy, const std::string& name) {
  auto any = [&](const std::vector<std::string>& globs) {
    return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
      return fnmatch(g.c_str(), name.c_str(), 0) == 0;
    });
  };
  return any(policy.include) && !any(policy.exclude);
}

GcPlan PlanGc(const GcPolicy& policy, const std::vector<GcEntry>& entries, const VolumeData* volume,
              SystemTime now) {
  GcPlan plan;
  plan.policy = policy.name;
  const GcTriggers& t = policy.triggers;

  std::vector<GcPlanItem> eligible, others;
  std::uint64_t own_total = 0;
  bool any_old = false;
  for (const GcEntry& e : entries) {
    GcPlanItem item;
    item.entry = e;
    item.decision = GcDecision::kSkip;
    if (e.error.empty() && e.newest > now + kFutureTimeSkew) {
      item.future_mtime = true;
      plan.future_mtime_entries++;
      item.age = e.newest_ctime > now + kFutureTimeSkew ? Duration(0) : Age(now, e.newest_ctime);
    } else {
      item.age = Age(now, e.newest);
    }
    if (!GcNameIncluded(policy, e.name)) {
      item.skip = SkipReason::kExcluded;
      item.why = "excluded by include/exclude";
      others.push_back(std::move(item));
      continue;
    }
    own_total += e.bytes;
    if (!e.error.empty()) {
      item.skip = SkipReason::kError;
      item.why = "not measured: " + e.error;
    } else if (!e.incomplete.empty()) {
      item.skip = SkipReason::kIncomplete;
      item.why = "not measured whole: " + e.incomplete;
    } else if (e.mount_point && !policy.unmount_stale) {
      item.skip = SkipReason::kMountPoint;
      item.why = "the entry is a mount point (unmount_stale is off)";
    } else if (item.age < policy.min_age) {
      item.skip = SkipReason::kYoung;
      item.why =
          fmt::format("young (idle {} < min_age {})",
                      FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(item.age)),
                      FormatDuration(policy.min_age));
    } else if (!e.mounted_elsewhere.empty()) {
      item.skip = SkipReason::kMountedElsewhere;
      item.why = "in use: mounted elsewhere at " + e.mounted_elsewhere;
    } else if (!e.foreign_mount.empty()) {
      item.skip = SkipReason::kMount;
      item.why = ForeignMountReason(e.foreign_mount);
    } else if (e.has_mount && !policy.unmount_stale) {
      item.skip = SkipReason::kMount;
      item.why = "a mount point inside (unmount_stale is off)";
    } else if (e.open && policy.skip_open) {
      item.skip = SkipReason::kOpen;
      item.why = "held open by a process";
    } else {
      item.decision = GcDecision::kKeep;
      if (t.older_than && item.age >= *t.older_than) any_old = true;
      eligible.push_back(std::move(item));
      continue;
    }
    others.push_back(std::move(item));
  }

  EvaluateVolumeTriggers(t, volume, own_total, &plan);
  if (t.older_than && any_old) {
    plan.triggers.push_back(fmt::format("entries idle over {}", FormatDuration(*t.older_than)));
  }
  if (t.always) plan.triggers.push_back("always");
  plan.triggered = !plan.triggers.empty();

  if (policy.order == GcOrder::kOldestFirst) {
    std::stable_sort(eligible.begin(), eligible.end(), [](const auto& a, const auto& b) {
      if (a.age != b.age) return a.age > b.age;
      return a.entry.name < b.entry.name;
    });
  } else {
    std::stable_sort(eligible.begin(), eligible.end(), [](const auto& a, const auto& b) {
      if (a.entry.bytes != b.entry.bytes) return a.entry.bytes > b.entry.bytes;
      return a.entry.name < b.entry.name;
    });
  }

  std::uint64_t freed_inodes = 0;
  for (GcPlanItem& item : eligible) {
    if (!plan.triggered) {
      item.why = "no trigger holds";
      continue;
    }
    std::string because;
    if (t.always) {
      because = "always";
    } else if (t.older_than && item.age >= *t.older_than) {
      because = fmt::format("idle over {}", FormatDuration(*t.older_than));
    } else if (plan.planned_bytes < plan.need_bytes) {
      because = fmt::format("{} still to free", HumanBytes(plan.need_bytes - plan.planned_bytes));
    } else if (freed_inodes < plan.need_inodes) {
      because = fmt::format("{} inodes still to free", plan.need_inodes - freed_inodes);
    }
    if (because.empty()) {
      item.why = "target reached";
      continue;
    }
    if (policy.max_entries > 0 &&
        plan.planned_entries >= static_cast<std::size_t>(policy.max_entries)) {
      item.why = fmt::format("max_entries {} reached", policy.max_entries);
      continue;
    }
    const std::uint64_t frees = item.entry.bytes - item.entry.shared_bytes;
    if (policy.max_bytes > 0 && plan.planned_bytes + frees > policy.max_bytes) {
      item.why = fmt::format("would pass max_bytes {}", HumanBytes(policy.max_bytes));
      continue;
    }
    item.decision = GcDecision::kDelete;
    item.why = item.entry.mount_point
                   ? because +
                         "; a stale mount at the entry: detached, then what is beneath is "
                         "measured and judged again"
                   : because;
    plan.planned_bytes += frees;
    plan.planned_shared_bytes += item.entry.shared_bytes;
    freed_inodes += item.entry.inodes;
    plan.planned_entries++;
  }
  plan.items = std::move(eligible);
  for (auto& o : others) plan.items.push_back(std::move(o));
  for (auto& i : plan.items) {
    if (i.future_mtime) i.why += "; newest time in the future: aged by ctime";
  }
  return plan;
}

nlohmann::json GcPlan::ToJson() const {
  nlohmann::json items_json = nlohmann::json::array();
  for (const auto& i : items) {
    nlohmann::json j = {
        {"entry", i.entry.name},
        {"bytes", i.entry.bytes},
        {"shared_bytes", i.entry.shared_bytes},
        {"inodes", i.entry.inodes},
        {"age_seconds", i.measured() ? nlohmann::json(ToSeconds(i.age)) : nlohmann::json(nullptr)},
        {"decision", ToString(i.decision)},
        {"why", i.why}};
    if (i.decision == GcDecision::kSkip) j["skip_reason"] = ToString(i.skip);
    if (i.future_mtime) j["future_mtime"] = true;
    if (i.entry.reused) j["measured_earlier"] = true;
    items_json.push_back(std::move(j));
  }
  nlohmann::json j = {{"policy", policy},
                      {"triggered", triggered},
                      {"triggers", triggers},
                      {"need_bytes", need_bytes},
                      {"need_inodes", need_inodes},
                      {"planned_bytes", planned_bytes},
                      {"planned_shared_bytes", planned_shared_bytes},
                      {"planned_entries", planned_entries},
                      {"future_mtime_entries", future_mtime_entries},
                      {"entries", items_json}};
  if (!held_back.empty()) j["held_back"] = held_back;
  if (!buildkit_address.empty()) j["buildkit_address"] = buildkit_address;
  return j;
}

}  // namespace cachewarden
