#include "agent/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "policies/alerts/assessment.h"

namespace cachewarden {
namespace {

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
  return Assess(snapshot, config.alerts, now);
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

std::string CheckReportText(const Config& config, const std::vector<Finding>& findings) {
  std::string out = fmt::format("cachewarden check: {}\ncache: {} (config: {})\n",
                                Upper(SeverityName(Worst(findings))), config.root, config.source);
  std::vector<const Finding*> sorted;
  for (const auto& f : findings) sorted.push_back(&f);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Finding* a, const Finding* b) {
    return SeverityRank(a->severity) > SeverityRank(b->severity);
  });
  for (const Finding* f : sorted) {
    out +=
        fmt::format("  [{}] {}: {}\n", Upper(SeverityName(f->severity)), f->Source(), f->summary);
    if (!f->remedy.empty()) out += fmt::format("      fix: {}\n", f->remedy);
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
