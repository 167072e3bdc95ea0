#include "agent/exposition.h"

#include <prometheus/text_serializer.h>

namespace cachewarden {

std::string ExpositionText(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace cachewarden
