#include "policies/gc_config.h"

namespace cachewarden {

GcConfig ReadGcConfig(ConfigReader& gc) {
  gc.Finish();
  return {};
}

}  // namespace cachewarden
