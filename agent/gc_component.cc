#include "agent/gc_component.h"

#include <algorithm>
#include <thread>

#include "base/log.h"

namespace cachewarden {
GcComponent::GcComponent() = default;

GcComponent::~GcComponent() {
  if (run_) run_->cancel = true;
}

void GcComponent::Start(uv_loop_t* loop, std::shared_ptr<const Config> config) {
  loop_ = loop;
  uv_async_init(loop_, &done_async_,
                [](uv_async_t* a) { static_cast<GcComponent*>(a->data)->OnRunDone(); });
  done_async_.data = this;
  open_handles_++;
  ApplyConfig(std::move(config));
}

void GcComponent::ApplyConfig(std::shared_ptr<const Config> config) {
  config_ = std::move(config);
  measures_ = std::make_shared<GcMeasureCache>();
  CloseTimers();
  if (!config_->gc.enabled) {
    episodes_.Keep({});
    return;
  }
  std::vector<std::string> names;
  for (const GcPolicy& p : config_->gc.policies) {
    names.push_back(p.name);
    auto* t = new PolicyTimer{{}, this, p};
    uv_timer_init(loop_, &t->timer);
    t->timer.data = t;
    open_handles_++;
    uv_timer_start(
        &t->timer,
        [](uv_timer_t* h) {
          auto* pt = static_cast<PolicyTimer*>(h->data);
          pt->self->OnTick(pt);
        },
        TimerMs(p.interval), TimerMs(p.interval));
    timers_.push_back(t);
  }
  stats_.Declare(names);
  episodes_.Keep(names);
}

void GcComponent::CloseTimers() {
  waiting_.clear();
  for (PolicyTimer* t : timers_) {
    uv_timer_stop(&t->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&t->timer), [](uv_handle_t* h) {
      auto* pt = static_cast<PolicyTimer*>(h->data);
      GcComponent* self = pt->self;
      delete pt;
      self->open_handles_--;
      self->MaybeFinishStop();
    });
  }
  timers_.clear();
}

void GcComponent::OnSnapshot(const std::shared_ptr<const Snapshot>& snapshot) {
  snapshot_ = snapshot;
}

void GcComponent::OnTick(PolicyTimer* t) {
  if (stopping_) return;
  if (running_) {
    stats_.RecordBusy(t->policy.name);
    LogDebug("gc run still going; the policy waits its turn", {{"policy", t->policy.name}});
    if (std::find(waiting_.begin(), waiting_.end(), t) == waiting_.end()) waiting_.push_back(t);
    return;
  }
  StartRun(t);
}

void GcComponent::StartRun(PolicyTimer* t) {
  running_ = true;
  run_ = std::make_shared<RunState>();
  run_->notify = &done_async_;
  std::shared_ptr<const VolumeData> volume;
  if (snapshot_) volume = snapshot_->Get<VolumeData>();
  GcRunOptions options;
  options.root = config_->root;
  options.proc_root = config_->proc_root;
  options.buildkit = config_->Buildkit();
  options.cancel = &run_->cancel;
  options.measures = measures_;
  std::thread([run = run_, policy = t->policy, volume, options] {
    GcRunResult r = RunGcPolicy(policy, volume.get(), options);
    std::lock_guard<std::mutex> lock(run->mutex);
    run->finished = std::move(r);
    if (run->notify != nullptr) uv_async_send(run->notify);
  }).detach();
}

void GcComponent::OnRunDone() {
  if (!run_) return;
  std::optional<GcRunResult> r;
  {
    std::lock_guard<std::mutex> lock(run_->mutex);
    r.swap(run_->finished);
  }
  if (!r) return;
  running_ = false;
  stats_.Record(*r);
  episodes_.Record({r->policy, r->result, r->freed_bytes, r->started, r->finished});
  if (r->result != GcResult::kNotTriggered) {
    LogInfo("gc run finished", {{"policy", r->policy},
                                {"result", ToString(r->result)},
                                {"freed_bytes", r->freed_bytes},
                                {"deleted_entries", r->deleted_entries}});
  }
  if (r->result == GcResult::kFreedNothing) {
    LogWarn("gc was triggered but freed nothing",
            {{"policy", r->policy}, {"triggers", r->plan.triggers}});
  }
  if (!stopping_ && !waiting_.empty()) {
    PolicyTimer* next = waiting_.front();
    waiting_.pop_front();
    StartRun(next);
    return;
  }
  MaybeFinishStop();
}

void GcComponent::Reload(std::shared_ptr<const Config> config) {
  if (running_) run_->cancel = true;  // the run in progress follows the old config
  ApplyConfig(std::move(config));
}

void GcComponent::Stop(std::function<void()> done) {
  stopping_ = true;
  on_stopped_ = std::move(done);
  if (run_) {
    // A run still going is cancelled and cut off from the loop: it ends on its own, and nothing
    // waits for it.
    std::lock_guard<std::mutex> lock(run_->mutex);
    run_->cancel = true;
    run_->notify = nullptr;
  }
  running_ = false;
  CloseTimers();
  MaybeFinishStop();
}

void GcComponent::MaybeFinishStop() {
  if (!stopping_ || running_ || !timers_.empty()) return;
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&done_async_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&done_async_), [](uv_handle_t* h) {
      auto* self = static_cast<GcComponent*>(h->data);
      self->open_handles_--;
      self->MaybeFinishStop();
    });
    return;
  }
  if (open_handles_ == 0 && on_stopped_) {
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done();
  }
}

void GcComponent::AddFacts(Snapshot* snapshot) const {
  snapshot->SetFact(GcEpisodes::kFact, std::make_shared<GcEpisodes>(episodes_));
}

void GcComponent::AddStatus(nlohmann::json& status) const { status["gc"] = stats_.ToJson(); }

}  // namespace cachewarden
