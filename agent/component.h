#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "agent/config.h"
#include "base/metric_writer.h"
#include "probes/snapshot.h"

namespace cachewarden {

// Adds to what the outputs show. Called from HTTP threads: thread-safe.
class OutputSource {
 public:
  virtual ~OutputSource() = default;
  virtual void ExportMetrics(MetricWriter& /*out*/) const {}
  // Adds the component's own key(s) to the /status document.
  virtual void AddStatus(nlohmann::json& /*status*/) const {}
};

// Something the daemon runs beside the probes (garbage collection, alert evaluation, notifiers).
// Every method but the OutputSource ones is called on the loop thread. Blocking work goes to a
// thread of the component's own or to the threadpool, never onto the loop.
class Component : public OutputSource {
 public:
  // Called once, before the first snapshot.
  virtual void Start(uv_loop_t* loop, std::shared_ptr<const Config> config) = 0;
  // A new snapshot was published (after each probe run).
  virtual void OnSnapshot(const std::shared_ptr<const Snapshot>& /*snapshot*/) {}
  // Adds what the component knows to a snapshot about to be published, for the alert rules
  // (Snapshot::SetFact).
  virtual void AddFacts(Snapshot* /*snapshot*/) const {}
  // A new config was loaded successfully (SIGHUP).
  virtual void Reload(std::shared_ptr<const Config> config) = 0;
  // Stop work, cancel what runs, close every handle; call `done` (on the loop thread) once all are
  // closed. Called once, at shutdown.
  virtual void Stop(std::function<void()> done) = 0;
};

// Every component the daemon runs: the one table to add to.
std::vector<std::shared_ptr<Component>> MakeComponents();

}  // namespace cachewarden
