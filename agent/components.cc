#include "agent/component.h"

namespace cachewarden {

std::vector<std::shared_ptr<Component>> MakeComponents() {
  std::vector<std::shared_ptr<Component>> out;
  // Add a component here.
  return out;
}

}  // namespace cachewarden
