// deploy/kubernetes: every document of every manifest validates against the Kubernetes and
// prometheus-operator schemas (npm's kubernetes-models and @kubernetes-models/prometheus-operator,
// installed by `scripts/dev test` into tests/deploy/schema/), and the agent config each ConfigMap
// carries passes `cachewarden config check`.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

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

std::vector<std::string> Manifests() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(SourceDir() + "/deploy/kubernetes")) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("the Kubernetes manifests validate against the Kubernetes and operator schemas",
          "[deploy][kubernetes]") {
  const std::string schema = SourceDir() + "/tests/deploy/schema";
  if (!std::filesystem::exists(schema + "/node_modules/kubernetes-models")) {
    CW_SKIP("the schema packages are not installed (scripts/dev test installs them)");
  }
  std::vector<std::string> argv = {"node", schema + "/validate.mjs"};
  for (const auto& m : Manifests()) argv.push_back(m);
  auto r = RunProcess(argv);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  std::set<std::string> kinds;
  const std::regex line(R"(^ok (\w+) )");
  std::smatch m;
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);) {
    if (std::regex_search(l, m, line)) kinds.insert(m[1]);
  }
  CHECK(kinds == std::set<std::string>{"ConfigMap", "DaemonSet", "NetworkPolicy", "PodMonitor",
                                       "PrometheusRule", "Service", "ServiceMonitor",
                                       "StatefulSet"});
  // The validator can fail: a replica count that is a string is refused.
  TempDir dir;
  WriteFile(dir / "bad.yaml",
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  replicas: "
            "\"one\"\n  serviceName: x\n  selector: {matchLabels: {a: b}}\n  template:\n    "
            "metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n");
  auto bad = RunProcess({"node", schema + "/validate.mjs", dir / "bad.yaml"});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.out, Catch::Contains("replicas must be integer"));
}

TEST_CASE("the agent config in every ConfigMap passes config check", "[deploy][kubernetes]") {
  // `  config.json: |` then the block, indented four spaces.
  const std::regex block(R"(config\.json: \|\n((?:    [^\n]*\n)+))");
  TempDir dir;
  int checked = 0;
  for (const auto& m : Manifests()) {
    const std::string text = ReadFile(m);
    for (std::sregex_iterator it(text.begin(), text.end(), block), end; it != end; ++it) {
      const std::string config = dir / ("config" + std::to_string(checked++) + ".json");
      WriteFile(config, (*it)[1]);
      auto r = RunProcess({BinaryPath(), "config", "check", config});
      INFO(m << ":\n" << (*it)[1] << r.out << r.err);
      CHECK(r.exit_code == 0);
    }
  }
  CHECK(checked == 2);
}

}  // namespace
}  // namespace cachewarden
