#pragma once

#include <memory>
#include <string>

#include "tests/support/process.h"

namespace cachewarden::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), for peers
// that cannot report the port they bound.
int FreeLoopbackPort();

// A TCP port on 127.0.0.1 where nothing listens, held while the object lives: a socket bound to
// port 0 and never listening, so a connection to it is refused at once, and no other socket can
// take the port meanwhile (unlike FreeLoopbackPort's).
class RefusingLoopbackPort {
 public:
  RefusingLoopbackPort();
  ~RefusingLoopbackPort();
  RefusingLoopbackPort(const RefusingLoopbackPort&) = delete;
  RefusingLoopbackPort& operator=(const RefusingLoopbackPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = -1;
};

// The real Prometheus on `dir`/prometheus.yml (which the test writes first), its data under
// `dir`/prom, listening on 127.0.0.1; the constructor waits until /-/ready answers 200. Stopped
// with the object.
class RunningPrometheus {
 public:
  explicit RunningPrometheus(const std::string& dir);
  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string Stderr() const { return process_->Stderr(); }

 private:
  int port_ = -1;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
};

// Creates `path` with `bytes` allocated (fallocate).
bool AllocateFile(const std::string& path, long long bytes);

}  // namespace cachewarden::testing
