#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/metric_writer.h"
#include "policies/alerts/alert_config.h"
#include "policies/alerts/alert_inputs.h"
#include "policies/alerts/severity.h"
#include "probes/snapshot.h"

namespace cachewarden {

// What one rule says about one alert (one severity of one labelled instance) at one evaluation. The
// rule computes both the strict condition and the relaxed one (the threshold minus its hysteresis
// margin); the engine uses the strict one to start an alert and the relaxed one to keep it, so a
// figure hovering at a threshold does not flap.
struct Candidate {
  Severity severity = Severity::kWarning;
  MetricLabels labels;  // besides alertname and severity, e.g. {"op", "read"}
  bool fires = false;   // the condition holds
  bool holds = false;   // the relaxed condition holds (fires implies holds)
  double value = 0;     // the figure, in the rule's unit
  std::string summary;
  std::string description;
};

// A threshold a rule reads from `alerts.rules.<Name>`.
enum class ParamKind { kPercent, kDuration, kSize, kCount };
struct RuleParam {
  std::string_view key;
  ParamKind kind;
  double def;  // base units: percent, seconds, bytes, count
};

// Evaluates one rule over a snapshot at `now`: appends its candidates and returns true, or returns
// false when its input is unknown (the probe it reads has no data), in which case the engine leaves
// the rule's alerts as they are.
using RuleEval = bool (*)(const Snapshot& snapshot, SystemTime now, const RuleConfig& config,
                          std::vector<Candidate>* out);

struct RuleDef {
  std::string_view name;  // the alertname label
  Duration default_for;
  Duration default_keep_firing_for;
  std::span<const RuleParam> params;
  std::span<const Severity> severities;  // the severities it can raise
  // Also evaluated by `check`; false when another assessor already says it.
  bool in_check;
  RuleEval eval;
};

// Every built-in rule.
std::span<const RuleDef> RuleTable();
const RuleDef* FindRule(std::string_view name);

// ---- Extractors: the one place each rule reads the snapshot. nullopt: the input is not known (no
// data yet, or the probe or fact it reads is absent).
std::optional<NotOnVolumeInput> ExtractNotOnVolume(const Snapshot& s, SystemTime now);
std::optional<UsageInput> ExtractDiskUsage(const Snapshot& s, SystemTime now);
std::optional<UsageInput> ExtractInodeUsage(const Snapshot& s, SystemTime now);
std::optional<FillingUpInput> ExtractFillingUp(const Snapshot& s, SystemTime now);
// p99 of each op's samples within the rule's `window`.
std::optional<LatencyInput> ExtractLatency(const Snapshot& s, SystemTime now,
                                           const RuleConfig& config);
std::optional<StaleMountsInput> ExtractStaleMounts(const Snapshot& s, SystemTime now);
std::optional<LogEventInput> ExtractResourceBusy(const Snapshot& s, SystemTime now);
std::optional<LeftoversInput> ExtractLeftovers(const Snapshot& s, SystemTime now);
std::optional<FallbackInput> ExtractSnapshotterFallback(const Snapshot& s, SystemTime now);
std::optional<GcInput> ExtractGc(const Snapshot& s, SystemTime now);
std::optional<IoErrorsInput> ExtractIoErrors(const Snapshot& s, SystemTime now);
std::optional<ProbesInput> ExtractProbes(const Snapshot& s, SystemTime now);

// ---- Deciders: pure functions of the input and the rule's config.
void DecideNotOnVolume(const NotOnVolumeInput& in, const RuleConfig& c,
                       std::vector<Candidate>* out);
void DecideDiskAlmostFull(const UsageInput& in, const RuleConfig& c, std::vector<Candidate>* out);
void DecideInodesAlmostFull(const UsageInput& in, const RuleConfig& c, std::vector<Candidate>* out);
void DecideFillingUp(const FillingUpInput& in, const RuleConfig& c, std::vector<Candidate>* out);
void DecideLatency(const LatencyInput& in, const RuleConfig& c, std::vector<Candidate>* out);
void DecideStaleMounts(const StaleMountsInput& in, const RuleConfig& c,
                       std::vector<Candidate>* out);
void DecideResourceBusy(const LogEventInput& in, const RuleConfig& c, std::vector<Candidate>* out);
void DecideLeftovers(const LeftoversInput& in, const RuleConfig& c, std::vector<Candidate>* out);
void DecideSnapshotterFallback(const FallbackInput& in, const RuleConfig& c,
                               std::vector<Candidate>* out);
void DecideGcIneffective(const GcInput& in, const RuleConfig& c, std::vector<Candidate>* out);
void DecideIoErrors(const IoErrorsInput& in, const RuleConfig& c, std::vector<Candidate>* out);
void DecideProbeFailing(const ProbesInput& in, const RuleConfig& c, std::vector<Candidate>* out);

}  // namespace cachewarden
