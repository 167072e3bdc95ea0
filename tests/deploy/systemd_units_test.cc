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
    if (!e.is_regular_file()) continue;  // modes/: drop-ins, verified with their unit below
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

// `systemd-analyze security --offline` of `unit` (with the drop-ins in `unit`.d/ beside it): the
// overall exposure (0 safest, 10 unsafe) and the report.
double Exposure(const std::string& unit, std::string* report) {
  auto r = RunProcess({"systemd-analyze", "security", "--offline=yes", "--no-pager", unit});
  *report = r.out + r.err;
  std::smatch m;
  static const std::regex kOverall("Overall exposure level for [^:]+: ([0-9.]+)");
  if (!std::regex_search(*report, m, kOverall)) return 99;
  return std::stod(m[1]);
}

TEST_CASE(
    "each mode's unit verifies, with its own capabilities, and scores OK in systemd-analyze "
    "security",
    "[deploy][systemd]") {
  if (RunProcess({"sh", "-c", "command -v systemd-analyze"}).exit_code != 0) {
    CW_SKIP("systemd-analyze is not installed");
  }
  const std::string src = SourceDir() + "/deploy/systemd/";
  struct Mode {
    std::string drop_in;  // "" for the unit as shipped (mode gc)
    bool sys_admin;       // CAP_SYS_ADMIN in the bounding set
    bool writes_cache;    // CAP_DAC_OVERRIDE: deletes entries whatever their owner
  };
  for (const Mode& mode : {Mode{"", false, true}, Mode{"monitor-only.conf", false, false},
                           Mode{"unmount.conf", true, true}}) {
    SECTION(mode.drop_in.empty() ? "gc" : mode.drop_in) {
      TempDir dir;
      WriteFile(dir / "cachewarden.service",
                std::regex_replace(ReadFile(src + "cachewarden.service"),
                                   std::regex("/usr/local/bin/cachewarden"), BinaryPath()));
      if (!mode.drop_in.empty()) {
        std::filesystem::create_directory(dir / "cachewarden.service.d");
        WriteFile(dir / "cachewarden.service.d/" + mode.drop_in,
                  ReadFile(src + "modes/" + mode.drop_in));
      }
      auto v = RunProcess({"systemd-analyze", "verify", dir / "cachewarden.service"});
      INFO(v.out << v.err);
      CHECK(v.exit_code == 0);
      CHECK(v.err.empty());
      std::string report;
      const double exposure = Exposure(dir / "cachewarden.service", &report);
      INFO(report);
      CHECK(exposure <= 3.5);
      // systemd-analyze marks a capability the unit keeps with ✗ and one it dropped with ✓.
      CHECK((report.find("✗ CapabilityBoundingSet=~CAP_SYS_ADMIN") != std::string::npos) ==
            mode.sys_admin);
      // A drop-in's CapabilityBoundingSet= replaces the unit's (both name a full set).
      std::smatch m;
      static const std::regex kCaps("\nCapabilityBoundingSet=([^\n]*)");
      const std::string caps_from = ReadFile(mode.drop_in.empty() ? src + "cachewarden.service"
                                                                  : src + "modes/" + mode.drop_in);
      REQUIRE(std::regex_search(caps_from, m, kCaps));
      CHECK((m[1].str().find("CAP_DAC_OVERRIDE") != std::string::npos) == mode.writes_cache);
    }
  }
  std::string report;
  CHECK(Exposure(src + "cachewarden-textfile.service", &report) <= 3.5);
}

}  // namespace
}  // namespace cachewarden
