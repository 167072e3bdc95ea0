// deploy/prometheus/cachewarden-rules.yml: valid for promtool, its unit tests pass, it names every
// built-in rule, and the PrometheusRule matches it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "policies/alerts/alert_rules.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::ReadFile;
using testing::RunProcess;
using testing::SourceDir;

std::string PrometheusDir() { return SourceDir() + "/deploy/prometheus"; }

TEST_CASE("the Prometheus rules pass promtool check rules", "[deploy][prometheus]") {
  auto r = RunProcess({"promtool", "check", "rules", PrometheusDir() + "/cachewarden-rules.yml"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("the Prometheus rules' promtool unit tests pass", "[deploy][prometheus]") {
  std::vector<std::string> argv = {"promtool", "test", "rules"};
  for (const auto& e : std::filesystem::directory_iterator(PrometheusDir() + "/tests")) {
    if (e.path().extension() == ".yml") argv.push_back(e.path().string());
  }
  REQUIRE(argv.size() > 3);
  // Relative rule_files paths resolve from the test file's directory.
  auto r = RunProcess(argv);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}

TEST_CASE("every built-in alert rule has a Prometheus rule of the same name",
          "[deploy][prometheus]") {
  std::string rules = ReadFile(PrometheusDir() + "/cachewarden-rules.yml");
  for (const auto& def : RuleTable()) {
    INFO(def.name);
    CHECK(rules.find("- alert: " + std::string(def.name) + "\n") != std::string::npos);
  }
}

// The kinds in `cachewarden_mount_info{kind=~"a|b"}` or `{kind="a"}` of the CacheNotOnVolume rule
// at `severity`.
std::set<std::string> KindsOf(const std::string& rules, const std::string& severity) {
  std::set<std::string> out;
  const std::regex rule(
      R"(- alert: CacheNotOnVolume\n\s+expr: ([^\n]*)\n\s+labels:\n\s+severity: (\w+))");
  const std::regex kinds(R"re(cachewarden_mount_info\{kind=~?"([^"]*)"\})re");
  for (std::sregex_iterator it(rules.begin(), rules.end(), rule), end; it != end; ++it) {
    if ((*it)[2] != severity) continue;
    const std::string expr = (*it)[1];
    for (std::sregex_iterator k(expr.begin(), expr.end(), kinds); k != end; ++k) {
      std::stringstream list((*k)[1]);
      for (std::string kind; std::getline(list, kind, '|');) out.insert(kind);
    }
  }
  return out;
}

TEST_CASE("the Prometheus CacheNotOnVolume rules judge each mount kind as the agent does",
          "[deploy][prometheus][mounts]") {
  const std::string rules = ReadFile(PrometheusDir() + "/cachewarden-rules.yml");
  std::set<std::string> warning, critical;
  for (const auto& [kind, name] : kMountKindNames) {
    if (MountKindSeverity(kind) == Severity::kWarning) warning.insert(std::string(name));
    if (MountKindSeverity(kind) == Severity::kCritical) critical.insert(std::string(name));
  }
  CHECK(KindsOf(rules, "warning") == warning);
  CHECK(KindsOf(rules, "critical") == critical);
  CHECK(warning.contains("fuse"));
}

TEST_CASE("the PrometheusRule is generated from the rules file", "[deploy][prometheus]") {
  auto r = RunProcess({PrometheusDir() + "/gen-prometheusrule"});
  REQUIRE(r.exit_code == 0);
  std::string committed = ReadFile(SourceDir() + "/deploy/kubernetes/prometheusrule.yaml");
  INFO("regenerate: deploy/prometheus/gen-prometheusrule > deploy/kubernetes/prometheusrule.yaml");
  CHECK(r.out == committed);
}

}  // namespace
}  // namespace cachewarden
