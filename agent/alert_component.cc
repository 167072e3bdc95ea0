#include "agent/alert_component.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

#include "base/json_text.h"
#include "base/log.h"

namespace cachewarden {
namespace {

constexpr auto kStopPoll = std::chrono::milliseconds(20);

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

AlertComponent::AlertComponent(const Clock& clock) : clock_(clock) {}
AlertComponent::~AlertComponent() = default;

MetricLabels AlertComponent::CommonLabels(const AlertsConfig& config) {
  return CommonAlertLabels(HostName(), config.alertmanager.external_labels,
                           [](const char* name) { return std::getenv(name); });
}

std::string AlertComponent::GeneratorUrl(const Config& config) {
  std::string base = config.alerts.external_url;
  if (base.empty()) {
    auto colon = config.listen.rfind(':');
    // The link an alert carries is where its /status answers: https when the endpoint serves TLS.
    const char* scheme = config.web.tls ? "https" : "http";
    base = config.bound_port > 0
               ? fmt::format("{}://{}:{}", scheme, HostName(), config.bound_port)
               : fmt::format("{}://{}:{}", scheme, HostName(), config.listen.substr(colon + 1));
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/status";
}

void AlertComponent::Configure(const Config& config) {
  std::lock_guard lock(mutex_);
  config_ = config.alerts;
  Duration retention =
      std::max<Duration>(std::chrono::minutes(15), config_.alertmanager.resolve_resend_for);
  if (engine_ == nullptr) {
    engine_ = std::make_unique<AlertEngine>(config_, retention);
  } else {
    engine_->Reconfigure(config_, retention);
  }
  common_labels_ = CommonLabels(config_);
  generator_url_ = GeneratorUrl(config);
  for (auto& n : notifiers_) {
    n->RequestStop();
    retiring_.push_back(std::move(n));
  }
  notifiers_.clear();
  const auto& am = config_.alertmanager;
  for (const auto& t : am.targets) {
    notifiers_.push_back(std::make_unique<HttpNotifier>(HttpNotifier::Kind::kAlertmanager, t,
                                                        am.max_backoff, am.queue_size, stats_));
  }
  for (const auto& t : config_.webhooks) {
    notifiers_.push_back(std::make_unique<HttpNotifier>(HttpNotifier::Kind::kWebhook, t,
                                                        am.max_backoff, am.queue_size, stats_));
  }
}

void AlertComponent::StartTimer() {
  Duration every = std::min(config_.evaluation_interval, config_.alertmanager.resend_interval);
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<AlertComponent*>(t->data);
        self->ReapNotifiers();
        self->Evaluate();
      },
      TimerMs(every), TimerMs(every));
}

void AlertComponent::Start(uv_loop_t* loop, std::shared_ptr<const Config> config) {
  loop_ = loop;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  Configure(*config);
  StartTimer();
}

void AlertComponent::OnSnapshot(const std::shared_ptr<const Snapshot>& snapshot) {
  snapshot_ = snapshot;
  Evaluate();
}

void AlertComponent::Reload(std::shared_ptr<const Config> config) {
  if (stopping_) return;
  Configure(*config);
  StartTimer();
  Evaluate();
}

void AlertComponent::Evaluate() {
  if (stopping_) return;
  const SystemTime now = clock_.Now();
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    for (const auto& c : engine_->Evaluate(*snapshot_, now)) {
      const Alert& a = c.alert;
      nlohmann::json fields = {{"alertname", a.name},
                               {"severity", SeverityName(a.severity)},
                               {"from", AlertStateName(c.from)},
                               {"to", AlertStateName(a.state)},
                               {"value", a.value},
                               {"summary", a.summary}};
      for (const auto& [k, v] : a.labels) fields[k] = v;
      Log(a.state == AlertState::kFiring ? LogLevel::kWarn : LogLevel::kInfo, "alert state changed",
          fields);
      changed = changed || a.state == AlertState::kFiring || a.state == AlertState::kResolved ||
                c.from == AlertState::kFiring;
    }
  }
  Notify(changed, now);
}

void AlertComponent::Notify(bool changed, SystemTime now) {
  if (notifiers_.empty()) return;
  const auto& am = config_.alertmanager;
  if (!changed && now - last_notified_ < am.resend_interval) return;
  NotificationBatch batch;
  batch.changed = changed;
  {
    std::lock_guard lock(mutex_);
    // A firing alert lapses in Alertmanager unless re-sent before endsAt.
    const Duration valid_for = 4 * std::max(am.resend_interval, config_.evaluation_interval);
    for (const auto& [key, a] : engine_->alerts()) {
      const bool resolved = a.state == AlertState::kResolved;
      if (a.state != AlertState::kFiring &&
          !(resolved && now - a.resolved_at < am.resolve_resend_for)) {
        continue;
      }
      OutgoingAlert out;
      out.labels = a.AllLabels();
      out.labels.insert(out.labels.end(), common_labels_.begin(), common_labels_.end());
      out.annotations = {{"summary", a.summary},
                         {"description", a.description},
                         {"value", fmt::format("{:g}", a.value)}};
      out.starts_at = a.firing_since;
      out.ends_at = resolved ? a.resolved_at : now + valid_for;
      out.resolved = resolved;
      out.generator_url = generator_url_;
      batch.alerts.push_back(std::move(out));
    }
  }
  if (batch.alerts.empty() && !changed) return;
  last_notified_ = now;
  for (auto& n : notifiers_) n->Enqueue(batch);
}

void AlertComponent::ReapNotifiers() {
  std::erase_if(retiring_, [](const auto& n) { return n->Exited(); });
}

void AlertComponent::Stop(std::function<void()> done) {
  stopping_ = true;
  done_ = std::move(done);
  for (auto& n : notifiers_) {
    n->RequestStop();
    retiring_.push_back(std::move(n));
  }
  notifiers_.clear();
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<AlertComponent*>(t->data);
        self->ReapNotifiers();
        if (!self->retiring_.empty()) return;
        uv_timer_stop(t);
        uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
          auto* self = static_cast<AlertComponent*>(h->data);
          if (self->done_) self->done_();
        });
      },
      0, TimerMs(kStopPoll));
}

void AlertComponent::ExportMetrics(MetricWriter& out) const {
  std::lock_guard lock(mutex_);
  if (engine_ == nullptr) return;
  engine_->ExportMetrics(out);
  stats_->Export(out);
}

void AlertComponent::AddStatus(nlohmann::json& status) const {
  std::lock_guard lock(mutex_);
  nlohmann::json list = nlohmann::json::array();
  if (engine_ != nullptr) {
    for (const auto& [key, a] : engine_->alerts()) {
      nlohmann::json j = {{"alertname", a.name},
                          {"severity", SeverityName(a.severity)},
                          {"state", AlertStateName(a.state)},
                          {"labels", LabelsJson(a.labels)},
                          {"value", a.value},
                          {"summary", a.summary},
                          {"description", a.description},
                          {"active_since", Rfc3339(a.active_since)}};
      if (a.state != AlertState::kPending) j["firing_since"] = Rfc3339(a.firing_since);
      if (a.state == AlertState::kResolved) j["resolved_at"] = Rfc3339(a.resolved_at);
      list.push_back(std::move(j));
    }
  }
  status["alerts"] = std::move(list);
}

}  // namespace cachewarden
