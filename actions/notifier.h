#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/metric_writer.h"
#include "policies/alerts/alert_config.h"

namespace cachewarden {

// One alert as the notifiers send it (Alertmanager's postableAlert).
struct OutgoingAlert {
  MetricLabels labels;       // alertname, severity, instance, ...
  MetricLabels annotations;  // summary, description, value
  SystemTime starts_at{};
  SystemTime ends_at{};  // in the future while firing; when it resolved
  bool resolved = false;
  std::string generator_url;
};

// Everything to tell a notifier at one moment: every firing alert and every recently resolved one.
// A batch supersedes the ones before it.
struct NotificationBatch {
  std::vector<OutgoingAlert> alerts;
  bool changed = false;  // an alert changed state (webhooks send only these)
};

// Reads one environment variable: its value, or null when unset. The agent passes std::getenv;
// tests pass their own, so no test sets the process environment.
using EnvironmentReader = std::function<const char*(const char* name)>;

// The labels every outgoing alert carries besides its own: instance=`instance`, then pod, namespace
// and node from POD_NAME, POD_NAMESPACE and NODE_NAME (what the Kubernetes downward API sets in the
// agent's container) as `getenv` reads them, each only when set and not empty, then
// `external_labels`, which replace any of these of the same name.
MetricLabels CommonAlertLabels(const std::string& instance, const MetricLabels& external_labels,
                               const EnvironmentReader& getenv);

// POST /api/v2/alerts body, and the Alertmanager webhook payload.
nlohmann::json AlertmanagerPayload(const NotificationBatch& batch);
nlohmann::json WebhookPayload(const NotificationBatch& batch);

// Counters and latencies of every notifier. Thread-safe.
class NotifierStats {
 public:
  void Count(const std::string& notifier, const std::string& result);
  void Latency(const std::string& notifier, double seconds);
  // cachewarden_notifications_total{notifier,result} and
  // cachewarden_notification_latency_seconds{notifier}.
  void Export(MetricWriter& out) const;
  double Get(const std::string& notifier, const std::string& result) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, double> counts_;
  std::map<std::string, HistogramValue> latency_;
};

// Sends batches to one HTTP destination (an Alertmanager or a webhook) from a thread of its own, so
// the loop never waits on the network. The queue is bounded: when full, the oldest batch is dropped
// (counted as result="dropped"). A failed send is retried with exponential backoff from 500 ms,
// capped at `max_backoff`; a newer batch replaces one being retried. Enqueue and RequestStop may be
// called from any thread; the destructor joins the thread (call RequestStop and wait for Exited()
// first to keep it short: an in-flight request is aborted within about a second).
class HttpNotifier {
 public:
  enum class Kind { kAlertmanager, kWebhook };
  HttpNotifier(Kind kind, HttpTargetConfig target, Duration max_backoff, int queue_size,
               std::shared_ptr<NotifierStats> stats);
  ~HttpNotifier();
  HttpNotifier(const HttpNotifier&) = delete;
  HttpNotifier& operator=(const HttpNotifier&) = delete;

  void Enqueue(NotificationBatch batch);
  void RequestStop();
  bool Exited() const { return exited_.load(); }
  const char* name() const { return kind_ == Kind::kAlertmanager ? "alertmanager" : "webhook"; }

 private:
  void Run();
  // One POST; true on a 2xx answer. *error says why not.
  bool Send(const std::string& body, std::string* error);

  Kind kind_;
  HttpTargetConfig target_;
  Duration max_backoff_;
  std::size_t queue_size_;
  std::shared_ptr<NotifierStats> stats_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<NotificationBatch> queue_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> exited_{false};
  std::thread thread_;
};

}  // namespace cachewarden
