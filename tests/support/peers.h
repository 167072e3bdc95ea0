#pragma once

#include <string>

#include "tests/support/process.h"

namespace cachewarden::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for peers
// that cannot report the port they bound.
int FreeLoopbackPort();

// Creates `path` with `bytes` allocated (fallocate).
bool AllocateFile(const std::string& path, long long bytes);

}  // namespace cachewarden::testing
