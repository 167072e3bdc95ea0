#include "tests/support/tls_peers.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probes/buildkit/proto/control.grpc.pb.h"
#include "tests/support/peers.h"

namespace cachewarden::testing {

bool LoopbackAccepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

OpenSslServer::OpenSslServer(const std::string& log_dir, const std::string& cert,
                             const std::string& key, const std::vector<std::string>& extra) {
  port_ = FreeLoopbackPort();
  // -quiet also ignores EOF on stdin (/dev/null here), which would otherwise end each connection.
  std::vector<std::string> argv = {
      "openssl", "s_server", "-quiet", "-accept", "127.0.0.1:" + std::to_string(port_),
      "-cert",   cert,       "-key",   key};
  argv.insert(argv.end(), extra.begin(), extra.end());
  process_ = std::make_unique<ChildProcess>(argv, log_dir);
  ready_ = WaitUntil([&] { return process_->Running() && LoopbackAccepts(port_); });
}

struct H2cGrpcServer::Impl {
  ::moby::buildkit::v1::Control::Service control;
  std::unique_ptr<grpc::Server> server;
};

H2cGrpcServer::H2cGrpcServer() : impl_(std::make_unique<Impl>()) {
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  b.RegisterService(&impl_->control);
  impl_->server = b.BuildAndStart();
  if (impl_->server == nullptr) port_ = 0;
}

H2cGrpcServer::~H2cGrpcServer() {
  if (impl_->server) impl_->server->Shutdown(std::chrono::system_clock::now());
}

}  // namespace cachewarden::testing
