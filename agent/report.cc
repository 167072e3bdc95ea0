#include "agent/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace cachewarden {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

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
  Severity worst = Worst(findings);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& f : findings) {
    list.push_back({{"severity", SeverityName(f.severity)},
                    {"source", f.Source()},
                    {"summary", f.summary},
                    {"remedy", f.remedy}});
  }
  nlohmann::json j = snapshot.ToJson(now);
  j["status"] = SeverityName(worst);
  j["exit_code"] = static_cast<int>(worst);
  j["root"] = config.root;
  j["findings"] = std::move(list);
  return j;
}

}  // namespace cachewarden
