#include "agent/alert_component.h"
#include "agent/component.h"
#include "agent/gc_component.h"

namespace cachewarden {

std::vector<std::shared_ptr<Component>> MakeComponents() {
  std::vector<std::shared_ptr<Component>> out;
  // Add a component here.
  out.push_back(std::make_shared<GcComponent>());
  out.push_back(std::make_shared<AlertComponent>());
  return out;
}

}  // namespace cachewarden
