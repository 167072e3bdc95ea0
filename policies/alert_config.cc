#include "policies/alert_config.h"

namespace cachewarden {

AlertsConfig ReadAlertsConfig(ConfigReader& alerts) {
  alerts.Finish();
  return {};
}

}  // namespace cachewarden
