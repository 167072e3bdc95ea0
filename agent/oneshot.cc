#include "agent/oneshot.h"

#include <algorithm>
#include <optional>

namespace cachewarden {
namespace {

// Every enabled probe of `config`, or only those in `names`.
std::shared_ptr<const Snapshot> Collect(const Config& config,
                                        std::optional<std::span<const std::string_view>> names) {
  auto snapshot = std::make_shared<Snapshot>();
  ProbeContext context = ContextFor(config);
  context.one_shot = true;
  for (const auto& spec : config.probes) {
    if (!spec.enabled) continue;
    if (names && std::find(names->begin(), names->end(), spec.name) == names->end()) {
      continue;
    }
    std::shared_ptr<Probe> probe = MakeProbe(spec);
    if (probe == nullptr) continue;  // not a probe of the table: nothing to run
    RunOutcome outcome =
        RunProbeOnce(spec, std::move(probe), context, std::make_shared<const Snapshot>(*snapshot));
    ApplyOutcome(snapshot.get(), spec.name, outcome);
  }
  return snapshot;
}

}  // namespace

std::shared_ptr<const Snapshot> CollectOnce(const Config& config) {
  return Collect(config, std::nullopt);
}

std::shared_ptr<const Snapshot> CollectOnce(const Config& config,
                                            std::span<const std::string_view> names) {
  return Collect(config, names);
}

RunOutcome RunProbeOnce(const ProbeSpec& spec, std::shared_ptr<Probe> probe,
                        const ProbeContext& context, std::shared_ptr<const Snapshot> previous) {
  ProbeWorker worker(std::move(probe), context, nullptr);
  worker.Start(std::move(previous));
  RunOutcome outcome;
  if (worker.WaitFor(spec.timeout)) {
    outcome = *worker.TakeOutcome();
  } else {
    worker.Cancel();
    outcome = TimeoutOutcome(spec.timeout, RealClock::Get().Now());
  }
  worker.Stop();
  worker.WaitExited(std::chrono::milliseconds(200));
  return outcome;
}

}  // namespace cachewarden
