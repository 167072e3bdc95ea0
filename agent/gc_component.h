#pragma once

#include <uv.h>

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

#include "actions/gc_run.h"
#include "agent/component.h"
#include "agent/gc_stats.h"
#include "policies/gc/gc_episodes.h"

namespace cachewarden {

// The daemon's garbage collector: one libuv timer per policy (its interval); a tick starts
// RunGcPolicy on a thread of the component's own, unless a run (of any policy) is still going: one
// GC run at a time, never on the loop; the policy then waits its turn and runs as soon as the
// current run ends. Reload and Stop cancel the running one (the reaper polls the flag before every
// unlink). Results feed GcStats, shown in /metrics and /status ("gc").
//
// The run's thread is detached and owns its state jointly with the component: after Stop() it can
// no longer reach the loop, so a run that is slow to notice the cancel flag never touches a closed
// handle and never holds up shutdown.
class GcComponent : public Component {
 public:
  GcComponent();
  ~GcComponent() override;

  void Start(uv_loop_t* loop, std::shared_ptr<const Config> config) override;
  void OnSnapshot(const std::shared_ptr<const Snapshot>& snapshot) override;
  // GcEpisodes: how long each policy's trigger has held without freeing.
  void AddFacts(Snapshot* snapshot) const override;
  void Reload(std::shared_ptr<const Config> config) override;
  void Stop(std::function<void()> done) override;

  void ExportMetrics(MetricWriter& out) const override { stats_.ExportMetrics(out); }
  void AddStatus(nlohmann::json& status) const override;

 private:
  struct PolicyTimer {
    uv_timer_t timer;
    GcComponent* self;
    GcPolicy policy;
  };

  void ApplyConfig(std::shared_ptr<const Config> config);
  void CloseTimers();
  void OnTick(PolicyTimer* t);
  void StartRun(PolicyTimer* t);
  void OnRunDone();
  void MaybeFinishStop();

  uv_loop_t* loop_ = nullptr;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::list<PolicyTimer*> timers_;
  // Policies whose tick came while another run was going: they run next, in tick order, so that one
  // policy's runs cannot starve another's.
  std::list<PolicyTimer*> waiting_;
  int open_handles_ = 0;
  // What one run shares with its thread.
  struct RunState {
    std::mutex mutex;
    std::optional<GcRunResult> finished;  // guarded by mutex
    uv_async_t* notify = nullptr;         // guarded by mutex; null once stopped
    std::atomic<bool> cancel{false};
  };

  uv_async_t done_async_{};
  std::shared_ptr<RunState> run_;  // the current or last run
  // The policies' entry measures, kept from run to run (GcPolicy::remeasure_after); a new config
  // starts afresh (a policy's path or age_by may have changed), while a run of the old one keeps
  // its own.
  std::shared_ptr<GcMeasureCache> measures_;
  bool running_ = false;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
  GcStats stats_;
  GcEpisodes episodes_;  // loop thread only
};

}  // namespace cachewarden
