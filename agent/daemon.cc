#include "agent/daemon.h"

#include <fmt/format.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <list>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "agent/agent_state.h"
#include "agent/cli.h"
#include "agent/component.h"
#include "agent/http_server.h"
#include "agent/probe_worker.h"
#include "base/log.h"
#include "fs/atomic_file.h"

namespace cachewarden {
namespace {

// The host of `listen` a local client reaches the listener at: the address itself, or loopback
// for every interface (":9479", "0.0.0.0:9479", "[::]:9479").
std::string ReachableHost(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  const std::string host = colon == std::string::npos ? std::string() : listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "[::]") return "[::1]";
  return host;
}

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr auto kHeartbeat = milliseconds(1000);
constexpr auto kStalledAfter = milliseconds(10000);  // /healthz turns 503
constexpr auto kShutdownBound = milliseconds(1000);  // wait for running probes
constexpr auto kShutdownPoll = milliseconds(20);
constexpr auto kHttpStopBound = milliseconds(1300);  // from the signal on
constexpr auto kTwinRetry = milliseconds(50);

std::int64_t SteadyMs() {
  return duration_cast<milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class Daemon;

// One probe's timers and worker, which owns the probe's instance. A reload that keeps the instance
// keeps the slot, with the new spec. Freed once retired, its three handles closed and its thread
// gone.
struct ProbeSlot {
  Daemon* daemon = nullptr;
  ProbeSpec spec;  // the settings it runs under now
  std::unique_ptr<ProbeWorker> worker;
  uv_timer_t tick{};
  uv_timer_t deadline{};
  uv_async_t done{};
  Duration run_timeout{};  // the deadline the current run started with
  bool abandoned = false;  // the current run passed its deadline
  int open_handles = 0;
  bool retired = false;
};

void OnTickCallback(uv_timer_t* t);

class Daemon {
 public:
  Daemon(Config config, const DaemonOptions& options)
      : options_(options), config_(std::make_shared<const Config>(std::move(config))) {}

  int Run();

 private:
  static Daemon* From(uv_handle_t* h) { return static_cast<Daemon*>(h->data); }

  void StartProbes();
  void StartProbe(const ProbeSpec& spec);
  void RetireProbes();
  void Retire(std::unique_ptr<ProbeSlot> slot);
  std::pair<std::vector<std::string>, std::vector<std::string>> ReloadProbes(const Config& was);
  void Respec(ProbeSlot* slot, const ProbeSpec& spec);
  friend void OnTickCallback(uv_timer_t* t);
  void OnTick(ProbeSlot* slot);
  void OnDeadline(ProbeSlot* slot);
  void OnDone(ProbeSlot* slot);
  void Pace(ProbeSlot* slot, const RunOutcome& outcome);
  void Publish(const std::string& probe, const RunOutcome& outcome);
  void Reload();
  void Shutdown(const char* why);
  void PollShutdown();
  void FinishShutdown();
  void ReapRetired(bool force);
  void UpdateReady();
  bool RetiredTwinRunning(const std::string& probe) const;

  DaemonOptions options_;
  std::shared_ptr<const Config> config_;
  uv_loop_t loop_{};
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  uv_timer_t heartbeat_{};
  uv_timer_t shutdown_timer_{};
  std::int64_t shutdown_started_ = 0;
  bool shutting_down_ = false;
  int components_running_ = 0;

  std::shared_ptr<AgentState> state_ = std::make_shared<AgentState>();
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();
  std::list<std::unique_ptr<ProbeSlot>> slots_;
  std::list<std::unique_ptr<ProbeSlot>> retired_;
  std::vector<std::shared_ptr<Component>> components_;

  // The endpoint stops on a thread of its own while the loop winds down (it waits for bcrypt checks
  // in flight); if it is still not done by then, the process exits without waiting for it, so that
  // shutdown stays within two seconds.
  std::unique_ptr<HttpServer> http_;
  std::thread http_stopper_;
  std::promise<void> http_stopped_;

  std::atomic<std::int64_t> last_tick_ms_{SteadyMs()};
  std::atomic<bool> ready_{false};
};

void OnTickCallback(uv_timer_t* t) {
  auto* slot = static_cast<ProbeSlot*>(t->data);
  slot->daemon->OnTick(slot);
}

void CloseSlotHandle(uv_handle_t* h) {
  auto* slot = static_cast<ProbeSlot*>(h->data);
  slot->open_handles--;
}

void Daemon::StartProbes() {
  for (const auto& spec : config_->probes) {
    if (spec.enabled) StartProbe(spec);
  }
}

// A fresh instance of `spec`'s probe on a new slot, its first run at once.
void Daemon::StartProbe(const ProbeSpec& spec) {
  std::shared_ptr<Probe> probe = MakeProbe(spec);
  if (probe == nullptr) return;  // not a probe of the table: nothing to run
  auto slot = std::make_unique<ProbeSlot>();
  ProbeSlot* s = slot.get();
  s->daemon = this;
  s->spec = spec;
  uv_timer_init(&loop_, &s->tick);
  uv_timer_init(&loop_, &s->deadline);
  uv_async_init(&loop_, &s->done, [](uv_async_t* a) {
    auto* slot = static_cast<ProbeSlot*>(a->data);
    slot->daemon->OnDone(slot);
  });
  s->tick.data = s->deadline.data = s->done.data = s;
  s->open_handles = 3;
  uv_async_t* done = &s->done;
  s->worker = std::make_unique<ProbeWorker>(std::move(probe), ContextFor(*config_),
                                            [done] { uv_async_send(done); });
  uv_timer_start(&s->tick, &OnTickCallback, 0, TimerMs(spec.interval));
  slots_.push_back(std::move(slot));
}

void Daemon::RetireProbes() {
  for (auto& slot : slots_) Retire(std::move(slot));
  slots_.clear();
}

// The worker retires its instance after the current run; the slot is freed by ReapRetired.
void Daemon::Retire(std::unique_ptr<ProbeSlot> slot) {
  slot->worker->Stop();
  slot->retired = true;
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&slot->tick),
                         reinterpret_cast<uv_handle_t*>(&slot->deadline),
                         reinterpret_cast<uv_handle_t*>(&slot->done)}) {
    uv_close(h, CloseSlotHandle);
  }
  retired_.push_back(std::move(slot));
}

// After a reload from `was` to config_: a probe KeepsInstance allows keeps its slot, its instance
// and so its state, under its new spec; any other running probe is retired, and every enabled probe
// without a slot then starts afresh. Returns the names kept and the names started.
std::pair<std::vector<std::string>, std::vector<std::string>> Daemon::ReloadProbes(
    const Config& was) {
  std::vector<std::string> kept, fresh;
  for (auto it = slots_.begin(); it != slots_.end();) {
    const ProbeSpec* spec = config_->FindProbe((*it)->spec.name);
    if (spec != nullptr && KeepsInstance(was, *config_, spec->name)) {
      Respec(it->get(), *spec);
      kept.push_back(spec->name);
      ++it;
    } else {
      Retire(std::move(*it));
      it = slots_.erase(it);
    }
  }
  for (const auto& spec : config_->probes) {
    if (!spec.enabled || std::find(kept.begin(), kept.end(), spec.name) != kept.end()) continue;
    StartProbe(spec);
    fresh.push_back(spec.name);
  }
  return {kept, fresh};
}

// A kept probe's new interval and timeout. A new interval takes effect from now: the next run is
// due within it. A run in progress keeps the deadline it started with.
void Daemon::Respec(ProbeSlot* slot, const ProbeSpec& spec) {
  if (spec.interval != slot->spec.interval) {
    const std::uint64_t due = std::min(uv_timer_get_due_in(&slot->tick), TimerMs(spec.interval));
    uv_timer_start(&slot->tick, &OnTickCallback, due, TimerMs(spec.interval));
  }
  slot->spec = spec;
}

// Frees retired slots whose handles are closed and whose thread has exited; with `force`, abandons
// threads still stuck in a probe.
void Daemon::ReapRetired(bool force) {
  for (auto it = retired_.begin(); it != retired_.end();) {
    ProbeSlot* s = it->get();
    if (s->open_handles == 0 && (force || s->worker->Exited())) {
      if (!s->worker->Exited()) {
        LogWarn("probe still running at shutdown; abandoning its thread",
                {{"probe", s->spec.name}});
      }
      it = retired_.erase(it);
    } else {
      ++it;
    }
  }
}

void Daemon::OnTick(ProbeSlot* slot) {
  if (shutting_down_ || slot->retired) return;
  const ProbeSpec& spec = slot->spec;
  if (RetiredTwinRunning(spec.name)) {
    // After a reload the old instance of this probe may still be in Collect(): two must never run
    // at once (the latency probe's file, a second walk). Try again shortly.
    uv_timer_start(&slot->tick, &OnTickCallback, TimerMs(kTwinRetry), TimerMs(spec.interval));
    return;
  }
  if (slot->worker->Busy()) {
    LogDebug("previous run still in progress; not starting another",
             {{"probe", spec.name}, {"abandoned", slot->abandoned}});
    return;
  }
  slot->worker->Start(snapshot_);
  slot->run_timeout = spec.timeout;
  uv_timer_start(
      &slot->deadline,
      [](uv_timer_t* t) {
        auto* slot = static_cast<ProbeSlot*>(t->data);
        slot->daemon->OnDeadline(slot);
      },
      TimerMs(spec.timeout), 0);
}

bool Daemon::RetiredTwinRunning(const std::string& probe) const {
  for (const auto& r : retired_) {
    if (r->spec.name == probe && !r->worker->Exited()) return true;
  }
  return false;
}

void Daemon::OnDeadline(ProbeSlot* slot) {
  if (slot->retired || slot->abandoned) return;
  if (slot->worker->HasOutcome()) {
    // The run finished in time; its wake-up is queued behind this timer.
    OnDone(slot);
    return;
  }
  // The run's own deadline: a reload since it started may have set another timeout.
  const std::string& name = slot->spec.name;
  slot->worker->Cancel();
  slot->abandoned = true;
  RunOutcome out = TimeoutOutcome(slot->run_timeout, RealClock::Get().Now());
  LogWarn("probe timed out", {{"probe", name}, {"timeout", FormatDuration(slot->run_timeout)}});
  Publish(name, out);
}

void Daemon::OnDone(ProbeSlot* slot) {
  if (slot->retired) return;
  auto outcome = slot->worker->TakeOutcome();
  if (!outcome) return;
  uv_timer_stop(&slot->deadline);
  const ProbeSpec& spec = slot->spec;
  if (slot->abandoned) {
    slot->abandoned = false;
    LogInfo("late result of a timed-out probe discarded",
            {{"probe", spec.name}, {"took_seconds", ToSeconds(outcome->duration)}});
    return;
  }
  if (!outcome->status.ok()) {
    LogWarn("probe failed", {{"probe", spec.name},
                             {"reason", outcome->status.reason()},
                             {"error", outcome->status.message()}});
  }
  Publish(spec.name, *outcome);
  Pace(slot, *outcome);
}

// A probe whose data asks for a longer pause than its interval (the scan of a large cache, paced by
// its CPU time) next runs that long after this run started, then at its interval again.
void Daemon::Pace(ProbeSlot* slot, const RunOutcome& outcome) {
  if (outcome.data == nullptr) return;
  const Duration gap = outcome.data->NextRunAfter();
  if (gap <= slot->spec.interval) return;
  const Duration wait = gap > outcome.duration ? gap - outcome.duration : Duration{};
  uv_timer_start(&slot->tick, &OnTickCallback, TimerMs(wait), TimerMs(slot->spec.interval));
  LogDebug("probe paced: next run later than its interval",
           {{"probe", slot->spec.name}, {"next_in_seconds", ToSeconds(wait)}});
}

void Daemon::Publish(const std::string& probe, const RunOutcome& outcome) {
  auto next = std::make_shared<Snapshot>(*snapshot_);
  ApplyOutcome(next.get(), probe, outcome);
  for (const auto& c : components_) c->AddFacts(next.get());
  snapshot_ = next;
  state_->Publish(snapshot_);
  UpdateReady();
  for (auto& c : components_) c->OnSnapshot(snapshot_);
}

void Daemon::UpdateReady() {
  bool ready = true;
  for (const auto& slot : slots_) {
    if (snapshot_->Find(slot->spec.name) == nullptr) ready = false;
  }
  ready_ = ready;
}

void Daemon::Reload() {
  std::shared_ptr<const Config> next;
  try {
    auto loaded = std::make_shared<Config>(LoadConfig(options_.config_file, options_.overrides));
    loaded->bound_port = config_->bound_port;  // the listener stays as it is
    next = std::move(loaded);
  } catch (const ConfigError& e) {
    state_->RecordReload(false, RealClock::Get().Now());
    LogError("config reload rejected; the previous config stays in force", {{"error", e.what()}});
    return;
  }
  if (next->listen != config_->listen) {
    LogWarn("the listen address changes only on restart",
            {{"listen", config_->listen}, {"requested", next->listen}});
  }
  // The endpoint first: certificates that no longer load reject the whole reload, and the running
  // listener keeps its own. Every reload reads them afresh, which is how rotation is picked up.
  try {
    http_->Configure(next->web);
  } catch (const std::exception& e) {
    state_->RecordReload(false, RealClock::Get().Now());
    LogError("config reload rejected; the previous config stays in force",
             {{"error", fmt::format("/web/config_file: {}: {}", next->web.config_file, e.what())}});
    return;
  }
  ConfigureLog(next->log_level, next->log_format);
  std::shared_ptr<const Config> was = std::exchange(config_, next);
  state_->SetConfig(config_);
  state_->RecordReload(true, RealClock::Get().Now());
  auto [kept, fresh] = ReloadProbes(*was);
  // Results of probes that are no longer enabled go; the rest stay until their next run (a probe
  // started afresh runs at once).
  auto trimmed = std::make_shared<Snapshot>();
  for (const auto& [name, r] : snapshot_->results()) {
    const ProbeSpec* spec = config_->FindProbe(name);
    if (spec != nullptr && spec->enabled) trimmed->Set(r);
  }
  snapshot_ = trimmed;
  state_->Publish(snapshot_);
  UpdateReady();
  for (auto& c : components_) c->Reload(config_);
  LogInfo("config reloaded",
          {{"source", config_->source}, {"probes_kept", kept}, {"probes_started", fresh}});
}

void Daemon::Shutdown(const char* why) {
  if (shutting_down_) return;
  shutting_down_ = true;
  LogInfo("shutting down", {{"signal", why}});
  http_stopper_ = std::thread([this] {
    http_.reset();
    http_stopped_.set_value();
  });
  RetireProbes();
  for (auto& c : components_) {
    components_running_++;
    c->Stop([this] { components_running_--; });
  }
  shutdown_started_ = SteadyMs();
  uv_timer_start(
      &shutdown_timer_,
      [](uv_timer_t* t) { From(reinterpret_cast<uv_handle_t*>(t))->PollShutdown(); }, 0,
      TimerMs(kShutdownPoll));
}

void Daemon::PollShutdown() {
  bool out_of_time = SteadyMs() - shutdown_started_ > kShutdownBound.count();
  ReapRetired(out_of_time);
  if ((retired_.empty() && components_running_ == 0) || out_of_time) {
    FinishShutdown();
  }
}

void Daemon::FinishShutdown() {
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
}

int Daemon::Run() {
  if (uv_loop_init(&loop_) != 0) {
    LogError("cannot initialise the event loop");
    return kExitSoftware;
  }
  state_->SetConfig(config_);
  state_->RecordReload(true, RealClock::Get().Now());

  try {
    HttpServer::Handlers h;
    auto state = state_;
    h.metrics = [state] { return state->Metrics(); };
    h.healthy = [this] { return SteadyMs() - last_tick_ms_.load() < kStalledAfter.count(); };
    h.ready = [this] { return ready_.load(); };
    h.status_json = [state] { return state->StatusJson(RealClock::Get().Now()); };
    http_ = std::make_unique<HttpServer>(config_->listen, std::move(h), config_->web);
  } catch (const std::exception& e) {
    LogError("cannot start the HTTP endpoint", {{"error", e.what()}});
    uv_loop_close(&loop_);
    return kExitUnavailable;
  }
  int port = http_->port();
  {
    auto bound = std::make_shared<Config>(*config_);
    bound->bound_port = port;
    config_ = std::move(bound);
    state_->SetConfig(config_);
  }
  // Before anyone can learn the port (the log line, the port file): a SIGTERM sent the moment the
  // agent is reachable must be a clean stop, not the default action's death (exit 143).
  for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_}) {
    uv_signal_init(&loop_, s);
    s->data = this;
  }
  uv_signal_start(
      &sigterm_,
      [](uv_signal_t* s, int) { From(reinterpret_cast<uv_handle_t*>(s))->Shutdown("SIGTERM"); },
      SIGTERM);
  uv_signal_start(
      &sigint_,
      [](uv_signal_t* s, int) { From(reinterpret_cast<uv_handle_t*>(s))->Shutdown("SIGINT"); },
      SIGINT);
  uv_signal_start(
      &sighup_,
      [](uv_signal_t* s, int) {
        auto* d = From(reinterpret_cast<uv_handle_t*>(s));
        if (!d->shutting_down_) d->Reload();
      },
      SIGHUP);
  LogInfo("listening",
          {{"listen", config_->listen},
           {"port", port},
           {"metrics", fmt::format("{}://{}:{}/metrics", config_->web.tls ? "https" : "http",
                                   ReachableHost(config_->listen), port)},
           {"root", config_->root},
           {"config", config_->source}});
  if (options_.port_file) {
    std::string error;
    if (!WriteAtomically(*options_.port_file, fmt::format("{}\n", port), &error)) {
      LogError("cannot write the port file", {{"error", error}});
    }
  }

  uv_timer_init(&loop_, &heartbeat_);
  heartbeat_.data = this;
  uv_timer_start(
      &heartbeat_,
      [](uv_timer_t* t) {
        auto* d = From(reinterpret_cast<uv_handle_t*>(t));
        d->last_tick_ms_ = SteadyMs();
        d->ReapRetired(false);
      },
      TimerMs(kHeartbeat), TimerMs(kHeartbeat));
  uv_timer_init(&loop_, &shutdown_timer_);
  shutdown_timer_.data = this;

  components_ = MakeComponents();
  for (auto& c : components_) {
    c->Start(&loop_, config_);
    state_->AddSource(c);
  }
  StartProbes();
  UpdateReady();

  uv_run(&loop_, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop_);
  if (rc != 0) {
    LogError("event loop did not close cleanly", {{"error", uv_strerror(rc)}});
  }
  ReapRetired(true);
  int code = rc == 0 ? 0 : kExitSoftware;
  // A component that did not stop within the bound (a notifier inside curl) or an HTTP server still
  // stopping is abandoned, not waited for: the process exits now, so that shutdown stays within two
  // seconds.
  if (components_running_ > 0) {
    LogInfo("stopped", {{"abandoned", "components"}});
    std::_Exit(code);
  }
  if (http_stopper_.joinable()) {
    auto remaining = kHttpStopBound - milliseconds(SteadyMs() - shutdown_started_);
    if (http_stopped_.get_future().wait_for(remaining) != std::future_status::ready) {
      LogInfo("stopped", {{"abandoned", "http"}});
      std::_Exit(code);
    }
    http_stopper_.join();
  }
  LogInfo("stopped");
  return code;
}

}  // namespace

int RunDaemon(Config config, const DaemonOptions& options) {
  Daemon d(std::move(config), options);
  return d.Run();
}

}  // namespace cachewarden
