#pragma once

#include <filesystem>
#include <string>

#include "tests/support/process.h"

namespace cachewarden::testing {

// A fixture /proc at `dir`/proc holding one process, pid 77, named buildkitd, whose root
// (/proc/77/root) is the directory `dir`/bk-root: what an agent sharing buildkitd's pid namespace
// sees of it, without a second mount namespace (which a test cannot make here). Returns that root.
inline std::string FakeBuildkitdProc(const TempDir& dir) {
  std::filesystem::create_directories(dir / "bk-root");
  std::filesystem::create_directories(dir / "proc/77");
  WriteFile(dir / "proc/77/comm", "buildkitd\n");
  std::filesystem::create_directory_symlink(dir / "bk-root", dir / "proc/77/root");
  return dir / "bk-root";
}

}  // namespace cachewarden::testing
