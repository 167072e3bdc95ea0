#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/unique_fd.h"

namespace cachewarden {

// mTLS for tcp:// addresses (`probes.buildkit.tls`), as Earthly's `tlsca` / `tlscert` / `tlskey`:
// absolute paths of PEM files, read afresh for each connection (a renewed file is used at once).
struct BuildkitTls {
  std::string ca;    // the CA certificates that signed buildkitd's server certificate
  std::string cert;  // the client certificate ("" with `key` "": no client certificate)
  std::string key;   // its private key
  // The name buildkitd's certificate must carry (and the SNI sent); "": the address's host.
  std::string server_name;
  // "": the files are read here. Else a process's /proc/<pid>/root: the files are read inside it,
  // as that process names them (buildkitd's own /etc/ca.pem), never outside it.
  std::string root;

  bool operator==(const BuildkitTls&) const = default;
};

// Where a BuildKit daemon answers, as `probes.buildkit.address` names it:
//   unix:///run/buildkit/buildkitd.sock     buildkitd's own gRPC socket
//   docker-unix:///var/run/docker.sock      the BuildKit inside dockerd, reached by upgrading an
//                                           HTTP/1.1 `POST /grpc` on the Docker API socket to h2c
//   tcp://127.0.0.1:8372                    buildkitd's TCP port (Earthly's
//                                           BUILDKIT_TCP_TRANSPORT_ENABLED): with `tls` mTLS,
//                                           without it plaintext h2c (anyone who reaches the port
//                                           can run builds: see the exposure probe)
struct BuildkitAddress {
  enum class Kind { kUnix, kDockerUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // absolute socket path; for kTcp "host:port" (a gRPC target)
  std::string text;  // as configured, for labels and messages
  // kTcp only: set from `probes.buildkit.tls` (ReadBuildkitOptions); unset means plaintext.
  std::optional<BuildkitTls> tls;

  bool operator==(const BuildkitAddress&) const = default;
};

// Parses one address; false and a reason in *error for any other scheme, a relative path, or a
// tcp:// address without a host or a port in 1-65535.
bool ParseBuildkitAddress(std::string_view text, BuildkitAddress* out, std::string* error);

// Connects to the Docker API socket at `socket_path`, sends `POST /grpc` with `Connection: Upgrade`
// and `Upgrade: h2c`, and reads the answer's head up to its blank line (byte by byte, so that no
// byte of the HTTP/2 stream that follows is consumed). On `101` stores the connected socket in *fd
// (non-blocking, close-on-exec), ready for grpc::CreateInsecureChannelFromFd. Every step is bounded
// by `deadline`: kTimeout when it passes, kMissing/kPermission/kIo when the socket is not there or
// refuses, kIo naming the status line when dockerd answers anything but 101 or closes first.
// Thread-safe (no shared state); blocks the calling thread until the deadline at most.
Status UpgradeDockerGrpc(const std::string& socket_path,
                         std::chrono::steady_clock::time_point deadline, UniqueFd* fd);

}  // namespace cachewarden
