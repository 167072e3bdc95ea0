#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace cachewarden::testing {

// A real `openssl s_server` on 127.0.0.1 serving `cert`/`key`, with `extra` arguments ("-Verify",
// "1", "-CAfile", ca for mTLS; "-tls1_2"). The constructor waits until it accepts connections
// (a condition: a TCP connect succeeds). Stopped with the object. It loads the certificate once, at
// start, as buildkitd does: replacing the file later does not change what it serves.
class OpenSslServer {
 public:
  OpenSslServer(const std::string& log_dir, const std::string& cert, const std::string& key,
                const std::vector<std::string>& extra = {});
  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string address() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::string Stderr() const { return process_->Stderr(); }

 private:
  int port_ = -1;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
};

// A real plaintext (h2c) gRPC server on 127.0.0.1, port chosen by the kernel: what buildkitd
// serves on TCP with BUILDKIT_TLS_ENABLED=false. Its BuildKit Control service answers UNIMPLEMENTED
// to every call (the exposure probe never makes one). port() is 0 if it did not start.
class H2cGrpcServer {
 public:
  H2cGrpcServer();
  ~H2cGrpcServer();
  H2cGrpcServer(const H2cGrpcServer&) = delete;
  H2cGrpcServer& operator=(const H2cGrpcServer&) = delete;
  int port() const { return port_; }
  std::string address() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  struct Impl;
  int port_ = 0;
  std::unique_ptr<Impl> impl_;
};

// True when a TCP connection to 127.0.0.1:`port` succeeds now.
bool LoopbackAccepts(int port);

}  // namespace cachewarden::testing
