#include "agent/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "base/units.h"
#include "policies/alerts/assessment.h"
#include "probes/byte_budget.h"
#include "probes/dind.h"
#include "probes/scan.h"
#include "probes/volume.h"

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

std::string CheckPerfdata(const Config& config, const Snapshot& snapshot) {
  std::vector<std::string> items;
  // 'label'=value[UOM];warn;crit;min;max, thresholds from the rules that judge the figure.
  auto percent = [&](std::string_view label, double ratio, std::string_view rule) {
    const RuleConfig& rc = config.alerts.Rule(rule);
    items.push_back(fmt::format("'{}'={:.2f}%;{:g};{:g};0;100", label, ratio * 100,
                                rc.Param("warning_percent"), rc.Param("critical_percent")));
  };
  if (auto vol = snapshot.Get<VolumeData>(); vol != nullptr) {
    percent("disk_used", vol->UsedRatio(), "CacheDiskAlmostFull");
    percent("inodes_used", vol->InodesUsedRatio(), "CacheInodesAlmostFull");
    items.push_back(fmt::format("'disk_free'={}B;;;0;{}", vol->avail_bytes, vol->size_bytes));
  }
  if (auto scan = snapshot.Get<ScanData>(); scan != nullptr) {
    items.push_back(fmt::format("'cache'={}B;;;0", scan->total.allocated_bytes));
    for (const auto& g : scan->groups) {
      items.push_back(fmt::format("'cache_{}'={}B;;;0", g.name, g.totals.allocated_bytes));
    }
    items.push_back(fmt::format("'cache_inodes'={};;;0", scan->total.inodes));
  }
  if (auto dind = snapshot.Get<DindData>(); dind != nullptr) {
    const RuleConfig& rc = config.alerts.Rule("DindLeftoversLarge");
    items.push_back(
        fmt::format("'dind_leftovers'={}B;{:.0f};;0", dind->leftover_bytes, rc.Param("max_size")));
  }
  return fmt::format("{}", fmt::join(items, " "));
}

std::string CheckReportText(const Config& config, const Snapshot& snapshot,
                            const std::vector<Finding>& findings) {
  // A root that is not there has nothing else to show: its one finding says so.
  const bool root_missing = findings.size() == 1 && findings[0].rule == kCacheRootMissing;
  // The Monitoring Plugins first line: status, the worst finding (findings are sorted worst
  // first), then the figures as perfdata for Nagios, Icinga and Sensu to graph.
  std::string summary = Worst(findings) == Severity::kOk
                            ? fmt::format("{} checks OK on {}", findings.size(), config.root)
                            : findings[0].summary;
  std::size_t more = 0;
  for (std::size_t i = 1; i < findings.size(); ++i) {
    more += findings[i].severity != Severity::kOk ? 1 : 0;
  }
  if (more > 0) summary += fmt::format(" (and {} more)", more);
  // '|' separates the perfdata: it must not appear in the text before it.
  std::replace(summary.begin(), summary.end(), '|', '/');
  const std::string perf = root_missing ? std::string() : CheckPerfdata(config, snapshot);
  std::string out = fmt::format("CACHEWARDEN {} - {}{}{}\ncache: {} (config: {})\n",
                                Upper(SeverityName(Worst(findings))), summary,
                                perf.empty() ? "" : " | ", perf, config.root, config.source);
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
  if (!root_missing) {
    if (auto budget = ComputeByteBudget(snapshot, snapshot.LatestRun())) {
      out += ByteBudgetText(*budget);
    }
  }
  std::vector<std::string> probes;
  std::string summaries;  // what a probe says of itself, one line each ("logs: following ...")
  for (const auto& spec : config.probes) {
    if (!spec.enabled) continue;
    const ProbeResult* r = snapshot.Find(spec.name);
    if (r == nullptr) continue;
    probes.push_back(r->status.ok() ? fmt::format("{} ok", spec.name)
                                    : fmt::format("{} failed ({})", spec.name, r->status.reason()));
    if (r->status.ok() && r->data != nullptr) {
      if (std::string s = r->data->Summary(); !s.empty()) {
        summaries += fmt::format("  {}: {}\n", spec.name, s);
      }
    }
  }
  if (!probes.empty() && !root_missing) {
    out += fmt::format("  probes: {}\n", fmt::join(probes, ", "));
    out += summaries;
  }
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
