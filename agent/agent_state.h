#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/component.h"
#include "agent/config.h"
#include "base/clock.h"
#include "base/metric_writer.h"
#include "probes/snapshot.h"

namespace cachewarden {

// What the outputs (/metrics, /status, textfile, check) read: the latest snapshot plus the agent's
// own facts. Published by the loop thread, read by HTTP threads. Thread-safe.
class AgentState {
 public:
  void Publish(std::shared_ptr<const Snapshot> snapshot);
  std::shared_ptr<const Snapshot> snapshot() const;

  void SetConfig(std::shared_ptr<const Config> config);
  std::shared_ptr<const Config> config() const;

  void RecordReload(bool ok, SystemTime at);
  // Components whose metrics and status join the outputs.
  void AddSource(std::shared_ptr<const OutputSource> source);

  // Every metric: the agent's own, then each probe's.
  std::vector<prometheus::MetricFamily> Metrics() const;
  // /status: {"agent": {...}, "probes": {...}}; no list in it longer than kStatusListMax (the
  // rest counted in "<list>_omitted"), so its size does not grow with the cache.
  static constexpr std::size_t kStatusListMax = 50;
  std::string StatusJson(SystemTime now) const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();
  std::shared_ptr<const Config> config_;
  bool last_reload_ok_ = true;
  SystemTime last_reload_success_{};
  SystemTime started_ = std::chrono::system_clock::now();
  std::vector<std::shared_ptr<const OutputSource>> sources_;
};

// cachewarden_build_info, for every output.
void ExportBuildInfo(MetricWriter& out);
const char* Version();
const char* Revision();

}  // namespace cachewarden
