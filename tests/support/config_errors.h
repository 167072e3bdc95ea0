#pragma once

#include <string>

#include "base/config_reader.h"

namespace cachewarden::testing {

// The message of the ConfigError that `load()` throws, or "" if it loads.
template <typename Load>
std::string ConfigErrorOf(Load&& load) {
  try {
    load();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace cachewarden::testing
