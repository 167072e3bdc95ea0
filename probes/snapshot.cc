#include "probes/snapshot.h"

#include <algorithm>

#include "probes/byte_budget.h"

namespace cachewarden {

const ProbeResult* Snapshot::Find(std::string_view probe) const {
  auto it = results_.find(probe);
  return it == results_.end() ? nullptr : &it->second;
}

void Snapshot::Set(ProbeResult result) {
  auto name = result.probe;
  results_.insert_or_assign(std::move(name), std::move(result));
}

void Snapshot::SetFact(std::string_view key, std::shared_ptr<const Fact> fact) {
  facts_.insert_or_assign(std::string(key), std::move(fact));
}

SystemTime Snapshot::LatestRun() const {
  SystemTime latest{};
  for (const auto& [name, r] : results_) latest = std::max(latest, r.finished);
  return latest;
}

nlohmann::json Snapshot::ToJson(SystemTime now) const {
  nlohmann::json probes = nlohmann::json::object();
  for (const auto& [name, r] : results_) {
    nlohmann::json p;
    p["status"] = r.status.ok() ? "ok" : "failed";
    if (!r.status.ok()) {
      p["reason"] = r.status.reason();
      p["error"] = r.status.message();
      if (!r.status.path().empty()) p["path"] = r.status.path();
    }
    p["age_seconds"] = ToSeconds(now - r.finished);
    p["duration_seconds"] = ToSeconds(r.duration);
    p["consecutive_failures"] = r.consecutive_failures;
    if (r.data) {
      p["data_age_seconds"] = ToSeconds(now - r.last_success);
      p["data"] = r.data->ToJson();
      if (std::string summary = r.data->Summary(); !summary.empty()) p["summary"] = summary;
    } else {
      p["data"] = nullptr;
    }
    if (!r.status.ok() && r.failure) p["failure"] = r.failure->ToJson();
    probes[name] = std::move(p);
  }
  nlohmann::json j{{"probes", std::move(probes)}};
  if (auto budget = ComputeByteBudget(*this, now)) j["byte_budget"] = ByteBudgetJson(*budget);
  return j;
}

void Snapshot::ExportMetrics(MetricWriter& out) const {
  for (const auto& [name, r] : results_) {
    out.Gauge("cachewarden_probe_success",
              "1 if the probe's latest run succeeded, 0 if it failed or timed out.",
              r.status.ok() ? 1 : 0, {{"probe", name}});
  }
  for (const auto& [name, r] : results_) {
    out.Gauge("cachewarden_probe_duration_seconds", "How long the probe's latest run took.",
              ToSeconds(r.duration), {{"probe", name}});
  }
  for (const auto& [name, r] : results_) {
    if (!r.has_succeeded()) continue;
    out.Gauge("cachewarden_probe_last_success_timestamp_seconds",
              "When the probe last succeeded, in seconds since the epoch.",
              ToUnixSeconds(r.last_success), {{"probe", name}});
  }
  for (const auto& [name, r] : results_) {
    if (r.status.ok() && r.data) r.data->ExportMetrics(out);
    if (!r.status.ok() && r.failure) r.failure->ExportMetrics(out);
  }
  // The budget as of the latest run: a scan older than kMaxScanAge by then is not compared.
  if (auto budget = ComputeByteBudget(*this, LatestRun()); budget && budget->unaccounted) {
    out.Gauge("cachewarden_buildkit_unaccounted_bytes",
              "Allocated bytes under BuildKit's directory that BuildKit's DiskUsage does not count "
              "(metadata databases, snapshots it lost track of): the scan's buildkit group less "
              "BuildKit's own count, 0 when BuildKit counts more.",
              static_cast<double>(*budget->unaccounted));
  }
}

}  // namespace cachewarden
