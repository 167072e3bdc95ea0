#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"

namespace cachewarden {

// Reads a whole small file (bounded), for /proc files; errno-based Status.
Status ReadSmallFile(const std::string& file, std::string* out, std::size_t max_bytes);

}  // namespace cachewarden
