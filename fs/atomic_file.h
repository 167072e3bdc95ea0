#pragma once

#include <string>

namespace cachewarden {

// Writes `data` to `path` atomically: a temporary file in the same directory, fsync, rename. A
// reader sees the old file or the new one, never half. On failure returns false with *error set,
// and leaves no temporary file.
bool WriteAtomically(const std::string& path, const std::string& data, std::string* error);

}  // namespace cachewarden
