#pragma once

#include <memory>
#include <string>

#include "tests/support/process.h"

namespace cachewarden::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then
// released), for peers that cannot report the port they bound.
int FreeLoopbackPort();

// The real agent, `cachewarden run` with `config_json` written to
// <dir>/agent/config.json, logs under <dir>/agent. Waits for its port file.
class AgentUnderTest {
 public:
  AgentUnderTest(const std::string& dir, const std::string& config_json);
  int port() const { return port_; }
  std::string Url(const std::string& path) const;
  ChildProcess& process() { return *process_; }
  // The value of the first sample of /metrics whose line starts with
  // `series` (name{labels} exactly as exposed), or -1.
  double Metric(const std::string& series) const;

 private:
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// Creates `path` with `bytes` allocated (fallocate).
bool AllocateFile(const std::string& path, long long bytes);

}  // namespace cachewarden::testing
