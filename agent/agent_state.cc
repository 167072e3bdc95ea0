#include "agent/agent_state.h"

#include "agent/report.h"
#include "base/json_text.h"
#include "policies/gc/gc_describe.h"

namespace cachewarden {

const char* Version() { return CACHEWARDEN_VERSION; }
const char* Revision() { return CACHEWARDEN_REVISION; }

void ExportBuildInfo(MetricWriter& out) {
  out.Gauge("cachewarden_build_info",
            "Always 1; the labels say which build of cachewarden is running.", 1,
            {{"version", Version()}, {"revision", Revision()}});
}

void AgentState::Publish(std::shared_ptr<const Snapshot> snapshot) {
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(snapshot);
}

std::shared_ptr<const Snapshot> AgentState::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

void AgentState::SetConfig(std::shared_ptr<const Config> config) {
  std::lock_guard lock(mutex_);
  config_ = std::move(config);
}

std::shared_ptr<const Config> AgentState::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

void AgentState::RecordReload(bool ok, SystemTime at) {
  std::lock_guard lock(mutex_);
  last_reload_ok_ = ok;
  if (ok) last_reload_success_ = at;
}

void AgentState::AddSource(std::shared_ptr<const OutputSource> source) {
  std::lock_guard lock(mutex_);
  sources_.push_back(std::move(source));
}

std::vector<prometheus::MetricFamily> AgentState::Metrics() const {
  std::shared_ptr<const Snapshot> snap;
  bool ok;
  SystemTime success;
  std::vector<std::shared_ptr<const OutputSource>> sources;
  {
    std::lock_guard lock(mutex_);
    snap = snapshot_;
    sources = sources_;
    ok = last_reload_ok_;
    success = last_reload_success_;
  }
  MetricWriter w;
  ExportBuildInfo(w);
  w.Gauge("cachewarden_config_last_reload_successful",
          "1 if the last configuration load or reload succeeded, 0 if it was rejected.",
          ok ? 1 : 0);
  w.Gauge("cachewarden_config_last_reload_success_timestamp_seconds",
          "When the configuration was last loaded successfully.", ToUnixSeconds(success));
  snap->ExportMetrics(w);
  for (const auto& source : sources) source->ExportMetrics(w);
  return w.Take();
}

std::string AgentState::StatusJson(SystemTime now) const {
  std::shared_ptr<const Snapshot> snap;
  std::shared_ptr<const Config> config;
  bool reload_ok;
  std::vector<std::shared_ptr<const OutputSource>> sources;
  {
    std::lock_guard lock(mutex_);
    snap = snapshot_;
    sources = sources_;
    config = config_;
    reload_ok = last_reload_ok_;
  }
  nlohmann::json j = snap->ToJson(now);
  j["agent"] = {{"version", Version()},
                {"revision", Revision()},
                {"uptime_seconds", ToSeconds(now - started_)},
                {"root", config ? config->root : ""},
                {"config_source", config ? config->source : ""},
                {"config_last_reload_successful", reload_ok}};
  if (config) {
    j["agent"]["gc"] = GcPolicyStatus(config->gc);
    // The same verdict as `check --json`, by the same code, over the latest snapshot.
    j.update(VerdictJson(CheckFindings(*config, *snap, now)));
  }
  for (const auto& source : sources) source->AddStatus(j);
  // Bounded whatever the cache holds; the whole lists are in `scan --json` and `gc --dry-run
  // --json`.
  BoundArrays(j, kStatusListMax);
  return DumpJson(j, 2) + "\n";
}

}  // namespace cachewarden
