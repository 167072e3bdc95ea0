#pragma once

#include <string>

#include "tests/support/skip.h"

namespace cachewarden::testing {

bool IsRoot();
// unshare(CLONE_NEWNS) and make every mount private; no-op unless root. Must run before any thread
// starts. Returns whether it is now private.
bool EnterPrivateMountNamespace();
bool InPrivateMountNamespace();

// mount(2); returns "" on success, else the error text.
std::string Mount(const std::string& type, const std::string& source, const std::string& target,
                  const std::string& options);
// A tmpfs of `size` ("64m") at `target`.
std::string MountTmpfs(const std::string& target, const std::string& size);
// An ext4 filesystem of `mib` MiB in `image`, loop-mounted at `target`.
std::string MountExt4Loop(const std::string& image, const std::string& target, int mib);
// An overlay at `dir`/merged, of `dir`/lower, upper and work (made here), and its line in
// /proc/self/mountinfo in *mountinfo_line. Returns "" on success, else the error text.
std::string MountOverlay(const std::string& dir, std::string* mountinfo_line);
// Detaches every mount at or under `path` (deepest first).
void UnmountUnder(const std::string& path);

}  // namespace cachewarden::testing

// Skips the test (see tests/support/skip.h) unless we are root in a private mount namespace. In CI
// (root) these tests run.
#define CW_REQUIRE_ROOT()                                                                      \
  do {                                                                                         \
    if (!cachewarden::testing::IsRoot() || !cachewarden::testing::InPrivateMountNamespace()) { \
      CW_SKIP("needs root and a private mount namespace (unshare -m)");                        \
    }                                                                                          \
  } while (0)
