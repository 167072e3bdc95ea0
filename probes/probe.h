#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "probes/snapshot.h"

namespace cachewarden {

// What a probe run may look at. Roots are injectable so that tests point a probe at fixture trees.
// Owned by the caller for the duration of one Collect() call.
struct ProbeContext {
  std::string cache_root;           // the cache directory as configured
  std::string proc_root = "/proc";  // where /proc is
  std::string sys_root = "/sys";    // where /sys is
  // Not owned, never null: points at a clock that outlives every Collect() and Retire() call made
  // with this context. RealClock::Get() lives for the whole process; a test's FakeClock must
  // outlive the probe's worker.
  const Clock* clock = &RealClock::Get();
  // Set when the run should stop early (deadline passed, shutdown, reload). Long probes poll it; a
  // probe stuck in a system call is abandoned instead.
  const std::atomic<bool>* cancel = nullptr;
  // The latest published snapshot when this run started (for probes that build on another probe's
  // data, like dind on scan). May be null.
  std::shared_ptr<const Snapshot> previous;
  // A one-shot mode (check, textfile): this run is the probe's only one, so a probe that needs a
  // first run to warm up or several samples takes them within it.
  bool one_shot = false;

  bool Cancelled() const { return cancel != nullptr && cancel->load(); }
  SystemTime Now() const { return clock->Now(); }
};

// One kind of observation of the cache. Collect() runs on the probe's own worker thread, never
// concurrently with itself, and never on the loop thread. A probe never changes the cache (except
// the latency probe's own file under <root>/.cachewarden/), never throws, and returns a failed
// Status instead of partial data.
class Probe {
 public:
  virtual ~Probe() = default;
  virtual std::string_view name() const = 0;
  // On success stores the new data in *out and returns OK. On failure it may store in *out data
  // that describes only the failure (what was tried and found down, never partial observations):
  // it becomes the result's `failure` (ProbeResult), exported and shown while the failure lasts,
  // and never replaces the latest successful data.
  virtual Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) = 0;
  // Called once when the probe is retired (shutdown, or replaced by a reload), from the thread that
  // ran Collect() last, after it returned.
  virtual void Retire(const ProbeContext& /*ctx*/) {}
};

}  // namespace cachewarden
