#pragma once

#include <string>

namespace cachewarden {

// Writes `data` to `path` atomically: a new temporary file (mode 0644) under an unpredictable name
// in the same directory, created exclusively so that a planted symlink is never followed, fsync,
// rename, fsync of the directory. A reader sees the old file or the new one, never half. On failure
// returns false with *error set, and leaves no temporary file.
bool WriteAtomically(const std::string& path, const std::string& data, std::string* error);

}  // namespace cachewarden
