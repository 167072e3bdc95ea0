#include "base/json_text.h"

#include <string>
#include <utility>
#include <vector>

namespace cachewarden {

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void BoundArrays(nlohmann::json& j, std::size_t max) {
  if (j.is_array()) {
    for (auto& e : j) BoundArrays(e, max);
    return;
  }
  if (!j.is_object()) return;
  std::vector<std::pair<std::string, std::size_t>> omitted;
  for (auto& [key, value] : j.items()) {
    if (value.is_array() && value.size() > max) {
      omitted.emplace_back(key + std::string(kOmittedSuffix), value.size() - max);
      value.erase(value.begin() + static_cast<std::ptrdiff_t>(max), value.end());
    }
    BoundArrays(value, max);
  }
  for (auto& [key, n] : omitted) j[key] = n;
}

nlohmann::json LabelsJson(const MetricLabels& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

}  // namespace cachewarden
