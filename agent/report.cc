#include "agent/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "base/units.h"
#include "policies/alerts/assessment.h"
#include "probes/scan.h"

namespace cachewarden {
namespace {

constexpr std::string_view kCacheRootMissing = "CacheRootMissing";

std::string Upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string RootMissing(const Status& s, const std::string& root) {
  if (s.code() != StatusCode::kMissing || s.path() != root) return "";
  return fmt::format("cache root {} {}", root,
                     s.error_number() == ENOTDIR ? "is not a directory" : "does not exist");
}

std::vector<Finding> CheckFindings(const Config& config, const Snapshot& snapshot, SystemTime now) {
  for (const auto& spec : config.probes) {
    const ProbeResult* r = snapshot.Find(spec.name);
    if (r == nullptr) continue;
    if (std::string missing = RootMissing(r->status, config.root); !missing.empty()) {
      return {{Severity::kUnknown,
               "CacheRootMissing",
               {},
               std::move(missing),
               "Point --root (or `root` in the config, or $EARTHLY_TMP_DIR) at BuildKit's cache "
               "directory, or create it."}};
    }
  }
  std::vector<Finding> findings = Assess(snapshot, config.alerts, now);
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    return SeverityRank(a.severity) > SeverityRank(b.severity);
  });
  return findings;
}

nlohmann::json VerdictJson(const std::vector<Finding>& findings) {
  Severity worst = Worst(findings);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    list.push_back({{"severity", SeverityName(f.severity)},
                    {"source", f.Source()},
                    {"summary", f.summary},
                    {"remedy", f.remedy}});
  }
  return {{"status", SeverityName(worst)},
          {"exit_code", static_cast<int>(worst)},
          {"findings", std::move(list)}};
}

std::string CheckReportText(const Config& config, const Snapshot& snapshot,
                            const std::vector<Finding>& findings) {
  std::string out = fmt::format("cachewarden check: {}\ncache: {} (config: {})\n",
                                Upper(SeverityName(Worst(findings))), config.root, config.source);
  // A root that is not there has nothing else to show: its one finding says so.
  const bool root_missing = findings.size() == 1 && findings[0].rule == kCacheRootMissing;
  if (auto scan = snapshot.Get<ScanData>(); scan && !root_missing) {
    std::vector<std::string> groups;
    for (const auto& g : scan->groups) {
      groups.push_back(
          fmt::format("{} {}", g.name, HumanBytes(static_cast<double>(g.totals.allocated_bytes))));
    }
    out += fmt::format("  size: {} in {} inodes ({})\n",
                       HumanBytes(static_cast<double>(scan->total.allocated_bytes)),
                       scan->total.inodes, fmt::join(groups, ", "));
  }
  std::vector<std::string> probes;
  for (const auto& spec : config.probes) {
    if (!spec.enabled) continue;
    const ProbeResult* r = snapshot.Find(spec.name);
    if (r == nullptr) continue;
    probes.push_back(r->status.ok() ? fmt::format("{} ok", spec.name)
                                    : fmt::format("{} failed ({})", spec.name, r->status.reason()));
  }
  if (!probes.empty() && !root_missing)
    out += fmt::format("  probes: {}\n", fmt::join(probes, ", "));
  for (const Finding& f : findings) {
    out += fmt::format("  [{}] {}: {}\n", Upper(SeverityName(f.severity)), f.Source(), f.summary);
    if (!f.remedy.empty()) out += fmt::format("      fix: {}\n", f.remedy);
  }
  return out;
}

nlohmann::json CheckReportJson(const Config& config, const Snapshot& snapshot,
                               const std::vector<Finding>& findings, SystemTime now) {
  nlohmann::json j = snapshot.ToJson(now);
  j.update(VerdictJson(findings));
  j["root"] = config.root;
  return j;
}

}  // namespace cachewarden
