#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cachewarden {

// What buildkitd was told about its listeners: by the flags of its command line and by its
// buildkitd.toml's [grpc] table (address, debugAddress, [grpc.tls] cert, key, ca). Pure parsers;
// nothing here reads a file, keeps state or throws (bar std::bad_alloc).

// The listener settings of buildkitd's command line (/proc/<pid>/cmdline, NUL-separated): `--addr`
// (repeatable), `--config`, `--tlscert`, `--tlskey`, `--tlscacert`, `--debugaddr`, each as
// `--flag value` or `--flag=value`, with one dash or two (urfave/cli takes both). Unknown flags
// are skipped. Values are cut to kMaxConfigValue bytes, valid UTF-8; at most kMaxAddresses
// addresses are kept.
struct BuildkitdFlags {
  std::vector<std::string> addresses;
  std::string config;  // "" not given
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string debug_address;
};
BuildkitdFlags ParseBuildkitdCmdline(std::string_view cmdline);

// The [grpc] table of a buildkitd.toml.
struct BuildkitdGrpcConfig {
  std::vector<std::string> addresses;
  std::string debug_address;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
};
// Parses `text` (TOML) into *out. A TOML syntax error is kParse with its line and column; a key of
// the wrong type (address not a list of strings) is kParse naming the key. Keys it does not know
// are ignored, as buildkitd's other tables are.
Status ParseBuildkitdToml(std::string_view text, BuildkitdGrpcConfig* out);

// Where buildkitd reads its config when no --config is given (running as root).
inline constexpr std::string_view kDefaultBuildkitdConfig = "/etc/buildkit/buildkitd.toml";
inline constexpr std::size_t kMaxConfigValue = 1024;
inline constexpr std::size_t kMaxAddresses = 8;

// What buildkitd listens on, flags over its config file as buildkitd applies them: --addr
// replaces [grpc] address, each --tls* and --debugaddr its key. `source` says where the addresses
// came from: "--addr", "buildkitd.toml", or "" (neither: buildkitd's default unix socket).
struct BuildkitdListen {
  std::vector<std::string> addresses;
  std::string source;
  std::string tls_cert;
  std::string tls_ca;
  std::string debug_address;
};
BuildkitdListen MergeBuildkitdListen(const BuildkitdFlags& flags, const BuildkitdGrpcConfig& file);

// The address to probe from outside for one buildkitd listens on: tcp://0.0.0.0:P and tcp://:P
// (all interfaces) become tcp://127.0.0.1:P, tcp://[::]:P becomes tcp://[::1]:P; another tcp://
// address is kept; "" for what is not TCP (unix://, fd://, npipe://).
std::string ProbeAddressFor(std::string_view listen);

// The port of a debugAddress (`0.0.0.0:6060`, `:6060`, `[::]:6060`, `localhost:6060`); 0 when it
// has none or it is not 1..65535.
int DebugAddressPort(std::string_view debug_address);

}  // namespace cachewarden
