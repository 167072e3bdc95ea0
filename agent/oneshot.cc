#include "agent/oneshot.h"

#include <fmt/format.h>

#include "agent/probe_worker.h"

namespace cachewarden {

std::shared_ptr<const Snapshot> CollectOnce(const Config& config) {
  auto snapshot = std::make_shared<Snapshot>();
  for (const auto& spec : config.probes) {
    if (!spec.enabled || !spec.probe) continue;
    ProbeContext ctx;
    ctx.cache_root = config.root;
    ctx.proc_root = config.proc_root;
    ctx.sys_root = config.sys_root;
    ProbeWorker worker(spec, std::move(ctx), nullptr);
    worker.Start(std::make_shared<const Snapshot>(*snapshot));
    RunOutcome outcome;
    if (worker.WaitFor(spec.timeout)) {
      outcome = *worker.TakeOutcome();
    } else {
      worker.Cancel();
      outcome.status = Status::Error(
          "timeout", fmt::format("did not finish within {}", FormatDuration(spec.timeout)));
      outcome.finished = RealClock::Get().Now();
      outcome.duration = spec.timeout;
    }
    ApplyOutcome(snapshot.get(), spec.name, outcome);
    worker.Stop();
    worker.WaitExited(std::chrono::milliseconds(200));
  }
  return snapshot;
}

}  // namespace cachewarden
