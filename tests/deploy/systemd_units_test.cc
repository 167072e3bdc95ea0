// deploy/systemd: every unit passes `systemd-analyze verify` with no complaint (an unknown key is
// only a warning there: the test fails on any line it prints), with ExecStart pointed at the
// binary just built, since verify checks that the command exists.
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <set>

#include "tests/support/process.h"
#include "tests/support/skip.h"

namespace cachewarden {
namespace {

using testing::BinaryPath;
using testing::ReadFile;
using testing::RunProcess;
using testing::SourceDir;
using testing::TempDir;
using testing::WriteFile;

TEST_CASE("the systemd units pass systemd-analyze verify without a warning", "[deploy][systemd]") {
  if (RunProcess({"sh", "-c", "command -v systemd-analyze"}).exit_code != 0) {
    CW_SKIP("systemd-analyze is not installed");
  }
  TempDir dir;
  std::vector<std::string> argv = {"systemd-analyze", "verify"};
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(SourceDir() + "/deploy/systemd")) {
    const std::string name = e.path().filename().string();
    const std::string text = std::regex_replace(
        ReadFile(e.path().string()), std::regex("/usr/local/bin/cachewarden"), BinaryPath());
    WriteFile(dir / name, text);
    argv.push_back(dir / name);
    names.insert(name);
  }
  CHECK(names.contains("cachewarden.service"));
  CHECK(names.contains("cachewarden-textfile.service"));
  CHECK(names.contains("cachewarden-textfile.timer"));
  auto r = RunProcess(argv);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
}

}  // namespace
}  // namespace cachewarden
