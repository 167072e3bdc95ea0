#include "actions/notifier.h"

#include <curl/curl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "base/json_text.h"
#include "base/log.h"

namespace cachewarden {
namespace {

const std::vector<double> kLatencyBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                            0.5,   1,    2.5,   5,    10};

nlohmann::json AlertJson(const OutgoingAlert& a) {
  return {{"labels", LabelsJson(a.labels)},
          {"annotations", LabelsJson(a.annotations)},
          {"startsAt", Rfc3339(a.starts_at)},
          {"endsAt", Rfc3339(a.ends_at)},
          {"generatorURL", a.generator_url}};
}

std::size_t Discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

int AbortOnStop(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

MetricLabels CommonAlertLabels(const std::string& instance, const MetricLabels& external_labels,
                               const EnvironmentReader& getenv) {
  MetricLabels out = {{"instance", instance}};
  for (auto [label, env] : {std::pair{"pod", "POD_NAME"}, std::pair{"namespace", "POD_NAMESPACE"},
                            std::pair{"node", "NODE_NAME"}}) {
    const char* v = getenv(env);
    if (v != nullptr && *v != '\0') out.emplace_back(label, v);
  }
  for (const auto& kv : external_labels) {
    std::erase_if(out, [&](const auto& l) { return l.first == kv.first; });
    out.push_back(kv);
  }
  return out;
}

nlohmann::json AlertmanagerPayload(const NotificationBatch& batch) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : batch.alerts) out.push_back(AlertJson(a));
  return out;
}

nlohmann::json WebhookPayload(const NotificationBatch& batch) {
  nlohmann::json alerts = nlohmann::json::array();
  bool any_firing = false;
  for (const auto& a : batch.alerts) {
    nlohmann::json j = AlertJson(a);
    j["status"] = a.resolved ? "resolved" : "firing";
    any_firing = any_firing || !a.resolved;
    alerts.push_back(std::move(j));
  }
  // The labels and annotations every alert shares.
  auto common = [&](auto member) {
    nlohmann::json c = nlohmann::json::object();
    if (batch.alerts.empty()) return c;
    // A named pair, not a structured binding: clang 14 (the fuzz build) cannot capture those.
    for (const auto& kv : batch.alerts[0].*member) {
      bool shared = std::all_of(batch.alerts.begin(), batch.alerts.end(), [&](const auto& a) {
        return std::find((a.*member).begin(), (a.*member).end(), kv) != (a.*member).end();
      });
      if (shared) c[kv.first] = kv.second;
    }
    return c;
  };
  return {{"version", "4"},
          {"groupKey", "cachewarden"},
          {"truncatedAlerts", 0},
          {"status", any_firing ? "firing" : "resolved"},
          {"receiver", "cachewarden"},
          {"groupLabels", nlohmann::json::object()},
          {"commonLabels", common(&OutgoingAlert::labels)},
          {"commonAnnotations", common(&OutgoingAlert::annotations)},
          {"externalURL", batch.alerts.empty() ? "" : batch.alerts[0].generator_url},
          {"alerts", std::move(alerts)}};
}

void NotifierStats::Count(const std::string& notifier, const std::string& result) {
  std::lock_guard lock(mutex_);
  counts_[{notifier, result}] += 1;
}

void NotifierStats::Latency(const std::string& notifier, double seconds) {
  std::lock_guard lock(mutex_);
  auto it = latency_.try_emplace(notifier, kLatencyBounds).first;
  it->second.Observe(seconds);
}

double NotifierStats::Get(const std::string& notifier, const std::string& result) const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find({notifier, result});
  return it == counts_.end() ? 0 : it->second;
}

void NotifierStats::Export(MetricWriter& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, n] : counts_) {
    out.Counter("cachewarden_notifications_total",
                "Alert notifications by notifier and result (success, failure, dropped).", n,
                {{"notifier", key.first}, {"result", key.second}});
  }
  for (const auto& [notifier, h] : latency_) {
    out.Histogram("cachewarden_notification_latency_seconds",
                  "How long each notification request took, successful or not.", h,
                  {{"notifier", notifier}});
  }
}

HttpNotifier::HttpNotifier(Kind kind, HttpTargetConfig target, Duration max_backoff, int queue_size,
                           std::shared_ptr<NotifierStats> stats)
    : kind_(kind),
      target_(std::move(target)),
      max_backoff_(max_backoff),
      queue_size_(static_cast<std::size_t>(std::max(1, queue_size))),
      stats_(std::move(stats)) {
  GlobalInitOnce();
  thread_ = std::thread([this] { Run(); });
}

HttpNotifier::~HttpNotifier() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
}

void HttpNotifier::Enqueue(NotificationBatch batch) {
  if (kind_ == Kind::kWebhook && !batch.changed) return;
  {
    std::lock_guard lock(mutex_);
    while (queue_.size() >= queue_size_) {
      queue_.pop_front();
      stats_->Count(name(), "dropped");
    }
    queue_.push_back(std::move(batch));
  }
  cv_.notify_one();
}

void HttpNotifier::RequestStop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
}

void HttpNotifier::Run() {
  Duration backoff{};
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (backoff > Duration::zero()) {
      cv_.wait_for(lock, backoff, [this] { return stop_.load(); });
      if (stop_) break;
    }
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) break;
    // A failed batch that a newer one superseded is dropped.
    while (queue_.size() > 1 && backoff > Duration::zero()) {
      queue_.pop_front();
      stats_->Count(name(), "dropped");
    }
    NotificationBatch batch = queue_.front();
    lock.unlock();
    std::string body =
        DumpJson(kind_ == Kind::kAlertmanager ? AlertmanagerPayload(batch) : WebhookPayload(batch));
    auto start = std::chrono::steady_clock::now();
    std::string error;
    bool ok = Send(body, &error);
    stats_->Latency(
        name(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    lock.lock();
    if (stop_) break;
    stats_->Count(name(), ok ? "success" : "failure");
    if (ok) {
      queue_.pop_front();
      if (backoff > Duration::zero()) LogInfo("notifier recovered", {{"url", target_.url}});
      backoff = Duration::zero();
    } else {
      Duration first = std::chrono::milliseconds(500);
      Duration next = backoff == Duration::zero() ? first : backoff * 2;
      if (backoff == Duration::zero()) {
        LogWarn("notification failed; retrying with backoff",
                {{"notifier", name()}, {"url", target_.url}, {"error", error}});
      }
      backoff = std::min(next, max_backoff_);
    }
  }
  exited_ = true;
}

bool HttpNotifier::Send(const std::string& body, std::string* error) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    *error = "curl_easy_init failed";
    return false;
  }
  std::string url = kind_ == Kind::kAlertmanager ? target_.url + "/api/v2/alerts" : target_.url;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::string auth;
  if (!target_.bearer_token.empty()) {
    // The config refuses such a token; this keeps a header injection impossible whatever built
    // the target.
    for (char ch : target_.bearer_token) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        *error = "the bearer token contains a CR, LF or other control character; not sent";
        return false;
      }
    }
    auth = "Authorization: Bearer " + target_.bearer_token;
    headers = curl_slist_append(headers, auth.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(
      curl, CURLOPT_TIMEOUT_MS,
      static_cast<long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(target_.timeout).count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &AbortOnStop);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &stop_);
  if (!target_.basic_username.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, target_.basic_username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, target_.basic_password.c_str());
  }
  if (!target_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, target_.ca_file.c_str());
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    *error = curl_easy_strerror(rc);
    return false;
  }
  if (code < 200 || code > 299) {
    *error = fmt::format("HTTP {}", code);
    return false;
  }
  return true;
}

}  // namespace cachewarden
