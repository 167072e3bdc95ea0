#pragma once

#include <uv.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actions/notifier.h"
#include "agent/component.h"
#include "policies/alerts/alert_engine.h"

namespace cachewarden {

// The daemon's alerting: evaluates the rules on every snapshot and on a timer
// (`alerts.evaluation_interval`), logs one line per state change, exports cachewarden_alert_*
// metrics and the alerts in /status, and hands every firing and recently resolved alert to the
// notifiers, which send from threads of their own. Loop-thread methods as in Component; the
// OutputSource methods are thread-safe.
class AlertComponent : public Component {
 public:
  // `clock` times evaluations and re-sends; tests pass a FakeClock. The component keeps a
  // reference: the clock must outlive it (RealClock::Get() lives as long as the process).
  explicit AlertComponent(const Clock& clock = RealClock::Get());
  ~AlertComponent() override;

  void Start(uv_loop_t* loop, std::shared_ptr<const Config> config) override;
  void OnSnapshot(const std::shared_ptr<const Snapshot>& snapshot) override;
  void Reload(std::shared_ptr<const Config> config) override;
  void Stop(std::function<void()> done) override;

  void ExportMetrics(MetricWriter& out) const override;
  void AddStatus(nlohmann::json& status) const override;

  // The labels every outgoing alert carries besides its own: CommonAlertLabels (actions/notifier.h)
  // for this host name and the process environment (POD_NAME/POD_NAMESPACE/NODE_NAME).
  static MetricLabels CommonLabels(const AlertsConfig& config);
  // The link each alert carries (generatorURL): alerts.external_url, else this host's endpoint
  // (https when it serves TLS), with "/status".
  static std::string GeneratorUrl(const Config& config);

 private:
  void Configure(const Config& config);
  void Evaluate();
  void Notify(bool changed, SystemTime now);
  void StartTimer();
  void ReapNotifiers();

  const Clock& clock_;  // not owned; outlives the component
  uv_loop_t* loop_ = nullptr;
  uv_timer_t timer_{};
  bool stopping_ = false;
  std::function<void()> done_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();

  mutable std::mutex mutex_;  // guards engine_ and config_ for the outputs
  std::unique_ptr<AlertEngine> engine_;
  AlertsConfig config_;
  MetricLabels common_labels_;
  std::string generator_url_;
  SystemTime last_notified_{};

  std::shared_ptr<NotifierStats> stats_ = std::make_shared<NotifierStats>();
  std::vector<std::unique_ptr<HttpNotifier>> notifiers_;
  std::vector<std::unique_ptr<HttpNotifier>> retiring_;  // stopping after a reload
};

}  // namespace cachewarden
