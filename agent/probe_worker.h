#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "agent/config.h"
#include "probes/probe.h"
#include "probes/registry.h"
#include "probes/snapshot.h"

namespace cachewarden {

// What one probe run produced.
struct RunOutcome {
  Status status;
  std::shared_ptr<const ProbeData> data;     // set iff status.ok()
  std::shared_ptr<const ProbeData> failure;  // only when !status.ok(), if the probe gave one
  SystemTime finished{};
  Duration duration{};
};

// Runs one probe instance's Collect() on a thread of its own, one run at a time. The worker owns
// the instance for its whole life: its state (a growth window, log offsets) is touched only on the
// worker's thread, and Retire() is called there once, after Stop().
//
// Why a thread per probe and not libuv's shared pool: a probe stuck in a system call (statfs on a
// hung NFS server) can neither be cancelled nor abandoned there; it would hold a pool slot for ever
// and keep uv_loop_close from returning 0. Here a stuck run occupies only its own probe's thread:
// the next tick sees the probe busy and starts nothing (at most one stuck call per probe), and at
// shutdown the thread is detached after a bound.
//
// Start/Cancel/TakeOutcome/Stop are called from one controlling thread (the loop thread). `on_done`
// is called on the worker thread after each run, and under the worker's lock; it must be
// thread-safe, cheap and must not call back into the worker (uv_async_send, a condition variable
// notify).
class ProbeWorker {
 public:
  // Only this worker calls `probe` while it lives (a caller may keep a handle, as tests do, but
  // must not call it); `context.cancel` is replaced by the worker's own flag.
  ProbeWorker(std::shared_ptr<Probe> probe, ProbeContext context, std::function<void()> on_done);
  // Stops the thread: joins it if it has exited, else detaches it (a run stuck in a system call is
  // abandoned). Wait with Exited() first.
  ~ProbeWorker();
  ProbeWorker(const ProbeWorker&) = delete;
  ProbeWorker& operator=(const ProbeWorker&) = delete;

  // True from Start() until the run's outcome has been taken.
  bool Busy() const;
  // Starts a run unless one is in progress; false if busy.
  bool Start(std::shared_ptr<const Snapshot> previous);
  // Asks the current run to stop early (deadline passed).
  void Cancel();
  // Whether a finished run's outcome waits to be taken.
  bool HasOutcome() const;
  // The finished run's outcome, once; nullopt while running or idle.
  std::optional<RunOutcome> TakeOutcome();
  // Waits up to `bound` for the current run to finish. For one-shot modes.
  bool WaitFor(Duration bound);
  // Asks the thread to retire the probe and exit after the current run, and stops calling on_done.
  // Non-blocking; Exited() tells when it is gone.
  void Stop();
  bool Exited() const;
  // Waits up to `bound` for the thread to exit after Stop().
  bool WaitExited(Duration bound);

 private:
  struct State;
  static void ThreadMain(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
  std::thread thread_;
};

// The context every probe of `config` runs with.
ProbeContext ContextFor(const Config& config);

// Whether, on a reload from `was` to `now`, the instance running probe `name` carries on, state and
// all (the growth window, latency samples, log offsets and counts), instead of a fresh one: the
// probe is enabled in both, with equal options, and the roots of its context (root, proc_root,
// sys_root) are the same. A new interval or timeout alone keeps the instance and applies to it: no
// probe's state depends on them (the growth window and the latency samples are timestamped,
// diskstats divides by the time between its runs).
bool KeepsInstance(const Config& was, const Config& now, std::string_view name);

// The outcome published for a run that passed its deadline (`timeout` after it started) at `now`.
RunOutcome TimeoutOutcome(Duration timeout, SystemTime now);

// Folds one run's outcome into the probe's result, keeping the last good data and counting
// consecutive failures.
void ApplyOutcome(Snapshot* snapshot, const std::string& probe, const RunOutcome& outcome);

}  // namespace cachewarden
