#include "fs/atomic_file.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/process.h"

namespace cachewarden {
namespace {

TEST_CASE("an atomic write never follows a symlink planted at a temporary name", "[fs]") {
  testing::TempDir dir;
  const std::string out = dir / "port";
  const std::string victim = dir / "victim";
  testing::WriteFile(victim, "precious");
  // The name the old code used, <path>.tmp.<pid>, and a few others a guess might try.
  for (const std::string& name :
       {fmt::format("{}.tmp.{}", out, ::getpid()), out + ".tmp", out + ".tmp.0", out + ".new"}) {
    REQUIRE(::symlink(victim.c_str(), name.c_str()) == 0);
  }
  std::string error;
  REQUIRE(WriteAtomically(out, "4242\n", &error));
  CHECK(error.empty());
  CHECK(testing::ReadFile(victim) == "precious");
  struct stat st {};
  REQUIRE(::lstat(out.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 0777) == 0644);
  CHECK(testing::ReadFile(out) == "4242\n");
  // The planted links are left as they were, and no temporary file is left behind.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    if (e.path() != out && e.path() != victim) CHECK(e.is_symlink());
  }
  CHECK(entries == 6);
}

TEST_CASE("an atomic write that fails leaves no temporary file", "[fs]") {
  testing::TempDir dir;
  std::string error;
  // The target is a directory: the rename fails.
  std::filesystem::create_directory(dir / "out");
  testing::WriteFile(dir / "out/keep", "x");
  CHECK_FALSE(WriteAtomically(dir / "out", "data", &error));
  CHECK_THAT(error, Catch::Contains("cannot rename"));
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
}

}  // namespace
}  // namespace cachewarden
