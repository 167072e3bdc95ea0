#include "agent/gc_command.h"

#include <fmt/format.h>

#include <cstring>

#include "agent/commands.h"
#include "agent/oneshot.h"
#include "agent/report.h"
#include "base/json_text.h"
#include "base/units.h"
#include "probes/volume.h"

namespace cachewarden {

std::string GcRunText(const GcRunResult& run) {
  std::string out;
  const GcPlan& plan = run.plan;
  std::string state = plan.triggered
                          ? "triggered by " + fmt::format("{}", fmt::join(plan.triggers, "; "))
                          : std::string("no trigger holds");
  if (!plan.held_back.empty()) {
    state = fmt::format("triggered by {}, but does nothing: {}", fmt::join(plan.triggers, "; "),
                        plan.held_back);
  }
  out += fmt::format("policy {}: {}\n", run.policy, state);
  if (!plan.buildkit_address.empty()) {
    out += fmt::format("  BuildKit at {}: its records are the entries\n", plan.buildkit_address);
  }
  if (plan.need_bytes > 0) out += fmt::format("  to free: {}\n", HumanBytes(plan.need_bytes));
  if (plan.need_inodes > 0) out += fmt::format("  to free: {} inodes\n", plan.need_inodes);
  if (!plan.items.empty()) {
    out += fmt::format("  {:<14} {:>10} {:>8}  {}\n", "PLAN", "SIZE", "IDLE", "ENTRY  (why)");
  }
  for (const auto& i : plan.items) {
    std::string decision = i.decision == GcDecision::kSkip
                               ? fmt::format("skip:{}", ToString(i.skip))
                               : std::string(ToString(i.decision));
    const bool measured = i.measured();
    out += fmt::format("  {:<14} {:>10} {:>8}  {}  ({})\n", decision,
                       measured ? HumanBytes(i.entry.bytes) : "-", measured ? HumanAge(i.age) : "-",
                       ShowName(i.entry.name), i.why);
  }
  out += fmt::format("  planned: {} entries, {}", plan.planned_entries,
                     HumanBytes(plan.planned_bytes));
  if (plan.planned_shared_bytes > 0) {
    out += fmt::format(" (and {} hard-linked from outside, not freed)",
                       HumanBytes(plan.planned_shared_bytes));
  }
  out += "\n";
  for (const auto& d : run.done) {
    out += fmt::format("  {:<9} {}  {}", ToString(d.reap.result), ShowName(d.name),
                       HumanBytes(d.bytes));
    if (d.reap.unmounted > 0) out += fmt::format(", {} mounts detached", d.reap.unmounted);
    if (d.reap.errors > 0) out += fmt::format(", {} errors", d.reap.errors);
    if (d.reap.result != ReapResult::kDeleted && d.freed > 0)
      out += fmt::format(", {} freed in part", HumanBytes(d.freed));
    out += "\n";
    for (const auto& e : d.reap.first_errors) {
      out += fmt::format("    {} {}: {}\n", e.what, ShowName(e.path), std::strerror(e.error));
    }
  }
  if (run.command_exit_code) {
    out += fmt::format("  command exited {}\n", *run.command_exit_code);
  }
  out += fmt::format("  result: {}", ToString(run.result));
  if (run.dry_run && plan.triggered) out += " (nothing deleted)";
  if (!run.dry_run) {
    out +=
        fmt::format(", freed {} in {} entries", HumanBytes(run.freed_bytes), run.deleted_entries);
  }
  if (!run.status.ok()) out += fmt::format(" ({})", run.status.ToString());
  return out + "\n";
}

int GcCommand(const CommandLine& cl) {
  auto config = LoadConfigForCommand(cl);
  if (!config) return kExitConfig;
  auto wanted = cl.Get("policy");
  std::vector<const GcPolicy*> policies;
  for (const auto& p : config->gc.policies) {
    if (!wanted || p.name == *wanted) policies.push_back(&p);
  }
  if (wanted && policies.empty()) {
    std::vector<std::string> names;
    for (const auto& p : config->gc.policies) names.push_back(p.name);
    fmt::print(stderr, "cachewarden: gc: no policy named \"{}\" (policies: {})\n", *wanted,
               fmt::join(names, ", "));
    return kExitUsage;
  }
  // What GC reads of a snapshot: the volume's figures. The policies measure their own entries.
  constexpr std::string_view kGcProbes[] = {VolumeData::kProbe};
  auto snapshot = CollectOnce(*config, kGcProbes);
  if (const ProbeResult* r = snapshot->Find(VolumeData::kProbe); r != nullptr) {
    // No plan about a path that is not there (it would say "no trigger holds" and exit 0).
    if (std::string missing = RootMissing(r->status, config->root); !missing.empty()) {
      fmt::print(stderr, "cachewarden: gc: {}\n", missing);
      return kExitNoInput;
    }
  }
  GcRunOptions options;
  options.root = config->root;
  options.proc_root = config->proc_root;
  options.buildkit = config->Buildkit();
  options.dry_run = cl.Has("dry-run");
  int exit_code = 0;
  nlohmann::json runs = nlohmann::json::array();
  for (const GcPolicy* p : policies) {
    auto volume = snapshot->Get<VolumeData>();
    GcRunResult run = RunGcPolicy(*p, volume.get(), options);
    if (run.result == GcResult::kFailed || run.result == GcResult::kPartial) exit_code = 1;
    if (cl.Has("json")) {
      runs.push_back(run.ToJson());
    } else {
      fmt::print("{}", GcRunText(run));
    }
  }
  if (cl.Has("json")) {
    nlohmann::json doc = {{"root", config->root}, {"dry_run", options.dry_run}, {"runs", runs}};
    fmt::print("{}\n", DumpJson(doc, 2));
  }
  return exit_code;
}

}  // namespace cachewarden
