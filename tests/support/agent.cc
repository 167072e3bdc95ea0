#include "tests/support/agent.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "tests/support/http.h"

namespace cachewarden::testing {

AgentUnderTest::AgentUnderTest(const std::string& dir, const std::string& config_json)
    : dir_(dir), config_path_(dir + "/config.json"), port_file_(dir + "/port") {
  WriteFile(config_path_, config_json);
}

AgentUnderTest::~AgentUnderTest() = default;

bool AgentUnderTest::Start(std::string* why, const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {BinaryPath(), "run",         "--config",    config_path_,
                                   "--listen",   "127.0.0.1:0", "--port-file", port_file_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_ = std::make_unique<ChildProcess>(
      argv, dir_,
      std::vector<std::string>{"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"});
  bool up = WaitUntil([&] { return std::filesystem::exists(port_file_) || !child_->Running(); });
  if (!up || !std::filesystem::exists(port_file_)) {
    *why = "agent did not start: " + child_->Stderr();
    return false;
  }
  port_ = std::stoi(ReadFile(port_file_));
  return true;
}

std::string AgentUnderTest::Url(const std::string& path) const {
  return fmt::format("http://127.0.0.1:{}{}", port_, path);
}

double AgentUnderTest::Metric(const std::string& metric) const {
  return MetricValue(HttpGet(Url("/metrics")).body, metric);
}

double MetricValue(const std::string& exposition, const std::string& metric) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > metric.size() && line.compare(0, metric.size(), metric) == 0 &&
        line[metric.size()] == ' ') {
      return std::stod(line.substr(metric.size() + 1));
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::string PromtoolCheckMetrics(const std::string& exposition, bool* ok) {
  TempDir dir;
  WriteFile(dir / "metrics.prom", exposition);
  auto r = RunProcess({"sh", "-c", "promtool check metrics < \"$0\"", dir / "metrics.prom"});
  *ok = r.exit_code == 0;
  return r.out + r.err;
}

}  // namespace cachewarden::testing
