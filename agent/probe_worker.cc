#include "agent/probe_worker.h"

#include <fmt/format.h>

#include <chrono>

namespace cachewarden {

struct ProbeWorker::State {
  std::shared_ptr<Probe> probe;
  ProbeContext context;
  std::function<void()> on_done;

  std::mutex mutex;
  std::condition_variable cv;
  bool job = false;      // a run has been requested
  bool running = false;  // a run is in progress
  bool stop = false;
  bool exited = false;
  std::optional<RunOutcome> outcome;
  std::shared_ptr<const Snapshot> previous;
  std::atomic<bool> cancel{false};

  // Under `mutex`, so that once Stop() has returned on_done is never called.
  void NotifyDone() {
    cv.notify_all();
    if (on_done) on_done();
  }
};

ProbeWorker::ProbeWorker(std::shared_ptr<Probe> probe, ProbeContext context,
                         std::function<void()> on_done)
    : state_(std::make_shared<State>()) {
  state_->probe = std::move(probe);
  state_->context = std::move(context);
  state_->context.cancel = &state_->cancel;
  state_->on_done = std::move(on_done);
  thread_ = std::thread(&ProbeWorker::ThreadMain, state_);
}

ProbeWorker::~ProbeWorker() {
  Stop();
  {
    std::unique_lock lock(state_->mutex);
    if (!state_->exited) {
      // Stuck in a system call: abandon it. The thread owns `state_` jointly and touches nothing
      // else.
      thread_.detach();
      return;
    }
  }
  thread_.join();
}

void ProbeWorker::ThreadMain(std::shared_ptr<State> s) {
  std::unique_lock lock(s->mutex);
  while (true) {
    s->cv.wait(lock, [&] { return s->job || s->stop; });
    if (s->job) {
      s->job = false;
      s->running = true;
      auto previous = std::move(s->previous);
      lock.unlock();
      ProbeContext ctx = s->context;
      ctx.previous = std::move(previous);
      RunOutcome out;
      auto t0 = std::chrono::steady_clock::now();
      out.status = s->probe->Collect(ctx, &out.data);
      out.duration = std::chrono::steady_clock::now() - t0;
      out.finished = ctx.Now();
      if (!out.status.ok()) out.failure = std::exchange(out.data, nullptr);
      if (out.status.ok() && out.data == nullptr) {
        out.status = Status::Error(StatusCode::kInternal, "probe returned no data");
      }
      lock.lock();
      s->running = false;
      s->outcome = std::move(out);
      s->NotifyDone();
      continue;
    }
    if (s->stop) break;
  }
  lock.unlock();
  s->probe->Retire(s->context);
  lock.lock();
  s->exited = true;
  s->cv.notify_all();
}

bool ProbeWorker::Busy() const {
  std::lock_guard lock(state_->mutex);
  return state_->job || state_->running || state_->outcome.has_value();
}

bool ProbeWorker::Start(std::shared_ptr<const Snapshot> previous) {
  std::lock_guard lock(state_->mutex);
  if (state_->job || state_->running || state_->outcome || state_->stop) return false;
  state_->cancel = false;
  state_->previous = std::move(previous);
  state_->job = true;
  state_->cv.notify_all();
  return true;
}

void ProbeWorker::Cancel() { state_->cancel = true; }

bool ProbeWorker::HasOutcome() const {
  std::lock_guard lock(state_->mutex);
  return state_->outcome.has_value();
}

std::optional<RunOutcome> ProbeWorker::TakeOutcome() {
  std::lock_guard lock(state_->mutex);
  return std::exchange(state_->outcome, std::nullopt);
}

bool ProbeWorker::WaitFor(Duration bound) {
  std::unique_lock lock(state_->mutex);
  return state_->cv.wait_for(lock, bound, [&] { return !state_->job && !state_->running; });
}

void ProbeWorker::Stop() {
  std::lock_guard lock(state_->mutex);
  state_->stop = true;
  state_->cancel = true;
  state_->on_done = nullptr;
  state_->cv.notify_all();
}

bool ProbeWorker::WaitExited(Duration bound) {
  std::unique_lock lock(state_->mutex);
  return state_->cv.wait_for(lock, bound, [&] { return state_->exited; });
}

bool ProbeWorker::Exited() const {
  std::lock_guard lock(state_->mutex);
  return state_->exited;
}

ProbeContext ContextFor(const Config& config) {
  ProbeContext ctx;
  ctx.cache_root = config.root;
  ctx.proc_root = config.proc_root;
  ctx.sys_root = config.sys_root;
  return ctx;
}

bool KeepsInstance(const Config& was, const Config& now, std::string_view name) {
  const ProbeSpec* before = was.FindProbe(name);
  const ProbeSpec* after = now.FindProbe(name);
  return before != nullptr && after != nullptr && before->enabled && after->enabled &&
         before->options == after->options && was.root == now.root &&
         was.proc_root == now.proc_root && was.sys_root == now.sys_root;
}

RunOutcome TimeoutOutcome(Duration timeout, SystemTime now) {
  RunOutcome out;
  out.status = Status::Error(StatusCode::kTimeout,
                             fmt::format("did not finish within {}", FormatDuration(timeout)));
  out.finished = now;
  out.duration = timeout;
  return out;
}

void ApplyOutcome(Snapshot* snapshot, const std::string& probe, const RunOutcome& outcome) {
  ProbeResult r;
  if (const ProbeResult* old = snapshot->Find(probe)) r = *old;
  r.probe = probe;
  r.status = outcome.status;
  r.finished = outcome.finished;
  r.duration = outcome.duration;
  r.failure = outcome.status.ok() ? nullptr : outcome.failure;
  if (outcome.status.ok()) {
    r.data = outcome.data;
    r.last_success = outcome.finished;
    r.consecutive_failures = 0;
  } else {
    r.consecutive_failures++;
  }
  snapshot->Set(std::move(r));
}

}  // namespace cachewarden
