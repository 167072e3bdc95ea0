#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace cachewarden::testing {

// The real cachewarden binary running `run` on 127.0.0.1:0 with a config file under `dir`. Start()
// waits until the port file appears.
class AgentUnderTest {
 public:
  AgentUnderTest(const std::string& dir, const std::string& config_json);
  ~AgentUnderTest();
  // Starts the agent; false (with the agent's stderr in *why) if it does not come up within the
  // bound.
  bool Start(std::string* why, const std::vector<std::string>& extra_args = {});
  int port() const { return port_; }
  std::string Url(const std::string& path) const;
  std::string config_path() const { return config_path_; }
  ChildProcess& process() { return *child_; }
  // The value of the first sample of `metric` (exact name with labels as in the exposition, e.g.
  // `cachewarden_probe_success{probe="volume"}`), or NaN.
  double Metric(const std::string& metric) const;
  std::string Stderr() const { return child_ ? child_->Stderr() : ""; }

 private:
  std::string dir_, config_path_, port_file_;
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
};

// The value of `metric` (name plus label set, as exposed) in Prometheus text `exposition`, or NaN
// if absent.
double MetricValue(const std::string& exposition, const std::string& metric);

// Runs `promtool check metrics` on `exposition`; returns promtool's output and sets *ok.
std::string PromtoolCheckMetrics(const std::string& exposition, bool* ok);

}  // namespace cachewarden::testing
