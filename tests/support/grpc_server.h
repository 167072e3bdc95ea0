#pragma once

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

namespace cachewarden::testing {

// A gRPC server of the test's own on the unix socket `socket` (a path), serving `service` (not
// owned; it must outlive this object) until destroyed. REQUIREs that it started.
class UnixGrpcServer {
 public:
  UnixGrpcServer(const std::string& socket, grpc::Service* service) {
    grpc::ServerBuilder b;
    b.AddListeningPort("unix://" + socket, grpc::InsecureServerCredentials());
    b.RegisterService(service);
    server_ = b.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~UnixGrpcServer() { server_->Shutdown(); }
  UnixGrpcServer(const UnixGrpcServer&) = delete;
  UnixGrpcServer& operator=(const UnixGrpcServer&) = delete;

 private:
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace cachewarden::testing
