#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/metric_writer.h"
#include "base/status.h"

namespace cachewarden {

// What one probe found. Each probe defines its own subclass in its own file pair, with `static
// constexpr std::string_view kProbe = "<probe name>";` so that Snapshot::Get<T>() can find it.
// Immutable once published; read from any thread.
class ProbeData {
 public:
  virtual ~ProbeData() = default;
  // The probe's part of /status and `check --json`.
  virtual nlohmann::json ToJson() const = 0;
  // The probe's metrics (besides the generic cachewarden_probe_* ones).
  virtual void ExportMetrics(MetricWriter& out) const = 0;
  // What the probe found, in a few words for `check`'s list of probes ("" says only "ok").
  virtual std::string Summary() const { return ""; }
  // How long after the start of the run that found this the probe's next run should start at the
  // earliest. The daemon waits the longer of this and the probe's interval; 0: the interval.
  virtual Duration NextRunAfter() const { return {}; }
};

// What the agent knows besides the probes (say, the GC component's trigger history), for the alert
// rules to read. Each kind declares `static constexpr std::string_view kFact = "<key>";`. Facts are
// neither exported nor shown in /status: their owners show them.
class Fact {
 public:
  virtual ~Fact() = default;
};

// The latest outcome of one probe.
struct ProbeResult {
  std::string probe;
  Status status;              // of the latest run
  SystemTime finished{};      // when the latest run ended (or timed out)
  Duration duration{};        // how long the latest run took
  SystemTime last_success{};  // epoch if never
  int consecutive_failures = 0;
  // Data of the latest successful run (kept while later runs fail, so that policies can see how old
  // it is), null before the first success.
  std::shared_ptr<const ProbeData> data;
  // What the latest run, when it failed, said about its failure (Probe::Collect), or null: the
  // buildkit probe's `cachewarden_buildkit_up 0` for each address it could not reach.
  std::shared_ptr<const ProbeData> failure;
  bool has_succeeded() const { return data != nullptr; }
};

// Everything the probes know at one moment: the hub between probes, policies and outputs. A value
// type: copy, change one probe's result, publish the copy as a shared_ptr<const Snapshot>. Never
// mutated once published.
class Snapshot {
 public:
  const ProbeResult* Find(std::string_view probe) const;
  void Set(ProbeResult result);

  // The latest successful data of the probe that owns T, or null.
  template <typename T>
  std::shared_ptr<const T> Get() const {
    const ProbeResult* r = Find(T::kProbe);
    if (r == nullptr || r->data == nullptr) return nullptr;
    return std::dynamic_pointer_cast<const T>(r->data);
  }
  // For tests and one-shot modes: publish `data` as a successful result.
  template <typename T>
  void Put(std::shared_ptr<const T> data, SystemTime at) {
    ProbeResult r;
    r.probe = std::string(T::kProbe);
    r.finished = at;
    r.last_success = at;
    r.data = std::move(data);
    Set(std::move(r));
  }

  template <typename T>
  std::shared_ptr<const T> GetFact() const {
    auto it = facts_.find(T::kFact);
    if (it == facts_.end()) return nullptr;
    return std::dynamic_pointer_cast<const T>(it->second);
  }
  void SetFact(std::string_view key, std::shared_ptr<const Fact> fact);

  const std::map<std::string, ProbeResult, std::less<>>& results() const { return results_; }

  // When the latest run of any probe finished; the epoch for an empty snapshot.
  SystemTime LatestRun() const;

  // {"probes": {name: {status, error, age_seconds, ..., data}}, "byte_budget": ...} (the budget
  // when the volume probe has data: ComputeByteBudget).
  nlohmann::json ToJson(SystemTime now) const;
  // cachewarden_probe_* for every probe, and each successful probe's own metrics. Data of a probe
  // whose latest run failed is not exported; its `failure`, where it has one, is.
  void ExportMetrics(MetricWriter& out) const;

 private:
  std::map<std::string, ProbeResult, std::less<>> results_;
  std::map<std::string, std::shared_ptr<const Fact>, std::less<>> facts_;
};

}  // namespace cachewarden
