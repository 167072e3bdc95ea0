#pragma once

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

namespace cachewarden::testing {

// A gRPC server of the test's own, listening on `address` (a gRPC listening address:
// "unix:///path", or "127.0.0.1:0" for a free loopback port) with `credentials`, serving `services`
// (not owned; they must outlive this object) until destroyed. REQUIREs that it started.
class GrpcServer {
 public:
  GrpcServer(const std::string& address, std::shared_ptr<grpc::ServerCredentials> credentials,
             const std::vector<grpc::Service*>& services) {
    grpc::ServerBuilder b;
    b.AddListeningPort(address, std::move(credentials), &port_);
    for (grpc::Service* s : services) b.RegisterService(s);
    server_ = b.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~GrpcServer() { server_->Shutdown(); }
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The TCP port it was given (for "127.0.0.1:0"); 0 for unix sockets.
  int port() const { return port_; }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// The same on the unix socket `socket` (a path), without TLS.
class UnixGrpcServer : public GrpcServer {
 public:
  UnixGrpcServer(const std::string& socket, grpc::Service* service)
      : UnixGrpcServer(socket, std::vector<grpc::Service*>{service}) {}
  UnixGrpcServer(const std::string& socket, const std::vector<grpc::Service*>& services)
      : GrpcServer("unix://" + socket, grpc::InsecureServerCredentials(), services) {}
};

}  // namespace cachewarden::testing
