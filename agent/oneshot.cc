#include "agent/oneshot.h"

#include "agent/probe_worker.h"

namespace cachewarden {

std::shared_ptr<const Snapshot> CollectOnce(const Config& config) {
  auto snapshot = std::make_shared<Snapshot>();
  for (const auto& spec : config.probes) {
    if (!spec.enabled || !spec.probe) continue;
    ProbeWorker worker(spec, ContextFor(config), nullptr);
    worker.Start(std::make_shared<const Snapshot>(*snapshot));
    RunOutcome outcome;
    if (worker.WaitFor(spec.timeout)) {
      outcome = *worker.TakeOutcome();
    } else {
      worker.Cancel();
      outcome = TimeoutOutcome(spec, RealClock::Get().Now());
    }
    ApplyOutcome(snapshot.get(), spec.name, outcome);
    worker.Stop();
    worker.WaitExited(std::chrono::milliseconds(200));
  }
  return snapshot;
}

}  // namespace cachewarden
