// deploy/prometheus/cachewarden-rules.yml: valid for promtool, its unit tests pass, it names every
// built-in rule, and the PrometheusRule matches it.
#include <catch2/catch.hpp>
#include <filesystem>

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

TEST_CASE("the PrometheusRule is generated from the rules file", "[deploy][prometheus]") {
  auto r = RunProcess({PrometheusDir() + "/gen-prometheusrule"});
  REQUIRE(r.exit_code == 0);
  std::string committed = ReadFile(SourceDir() + "/deploy/kubernetes/prometheusrule.yaml");
  INFO("regenerate: deploy/prometheus/gen-prometheusrule > deploy/kubernetes/prometheusrule.yaml");
  CHECK(r.out == committed);
}

}  // namespace
}  // namespace cachewarden
