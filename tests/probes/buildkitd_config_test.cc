#include "probes/buildkitd_config.h"

#include <catch2/catch.hpp>

namespace cachewarden {
namespace {

using namespace std::string_literals;

TEST_CASE("buildkitd's command line: --addr repeats, both flag forms, unknown flags skipped",
          "[exposure][discovery]") {
  const std::string cmdline =
      "/usr/bin/buildkitd\0--root\0/var/lib/buildkit\0--addr\0unix:///run/buildkit/buildkitd.sock\0"
      "--addr=tcp://0.0.0.0:8372\0-tlscert\0/etc/cert.pem\0--tlskey=/etc/key.pem\0"
      "--tlscacert\0/etc/ca.pem\0--oci-worker-gc\0--debugaddr\0"
      "0.0.0.0:6060\0"
      "--config=/etc/buildkitd.toml\0"s;
  const BuildkitdFlags f = ParseBuildkitdCmdline(cmdline);
  CHECK(f.addresses ==
        std::vector<std::string>{"unix:///run/buildkit/buildkitd.sock", "tcp://0.0.0.0:8372"});
  CHECK(f.tls_cert == "/etc/cert.pem");
  CHECK(f.tls_key == "/etc/key.pem");
  CHECK(f.tls_ca == "/etc/ca.pem");
  CHECK(f.debug_address == "0.0.0.0:6060");
  CHECK(f.config == "/etc/buildkitd.toml");

  // The program's own name is no flag; a flag without its value at the end is dropped; nothing
  // after "--" is read; at most kMaxAddresses addresses.
  CHECK(ParseBuildkitdCmdline("--addr\0tcp://a:1\0"s).addresses.empty());
  const BuildkitdFlags cut = ParseBuildkitdCmdline("buildkitd\0--addr\0tcp://a:1\0--config"s);
  CHECK(cut.addresses == std::vector<std::string>{"tcp://a:1"});
  CHECK(cut.config.empty());
  CHECK(ParseBuildkitdCmdline("buildkitd\0--\0--addr\0tcp://a:1\0"s).addresses.empty());
  std::string many = "buildkitd";
  for (int i = 0; i < 20; ++i) many += "\0--addr=tcp://h:"s + std::to_string(1000 + i);
  CHECK(ParseBuildkitdCmdline(many).addresses.size() == kMaxAddresses);
  CHECK(ParseBuildkitdCmdline("").addresses.empty());
}

TEST_CASE("buildkitd.toml: the [grpc] table and its tls, other tables ignored",
          "[exposure][discovery]") {
  BuildkitdGrpcConfig c;
  REQUIRE(ParseBuildkitdToml(R"(
debug = true
root = "/tmp/earthly/buildkit"
[grpc]
  address = [ "unix:///run/buildkit/buildkitd.sock", "tcp://0.0.0.0:8372" ]
  debugAddress = "0.0.0.0:6060"
  [grpc.tls]
    cert = "/etc/cert.pem"
    key = "/etc/key.pem"
    ca = "/etc/ca.pem"
[worker.oci]
  gc = true
  gckeepstorage = 20000000000
[[worker.oci.gcpolicy]]
  keepBytes = 10000000000
  all = true
)",
                             &c)
              .ok());
  CHECK(c.addresses ==
        std::vector<std::string>{"unix:///run/buildkit/buildkitd.sock", "tcp://0.0.0.0:8372"});
  CHECK(c.debug_address == "0.0.0.0:6060");
  CHECK(c.tls_cert == "/etc/cert.pem");
  CHECK(c.tls_key == "/etc/key.pem");
  CHECK(c.tls_ca == "/etc/ca.pem");

  REQUIRE(ParseBuildkitdToml("[worker.oci]\ngc = true\n", &c).ok());
  CHECK(c.addresses.empty());
  CHECK(c.tls_cert.empty());

  Status s = ParseBuildkitdToml("[grpc]\naddress = [\"tcp://a:1\"\n", &c);
  CHECK(s.code() == StatusCode::kParse);
  CHECK_THAT(s.message(), Catch::StartsWith("line "));
  s = ParseBuildkitdToml("[grpc]\naddress = \"tcp://a:1\"\n", &c);
  CHECK(s.code() == StatusCode::kParse);
  CHECK(s.message() == "grpc.address must be a list of strings");
  s = ParseBuildkitdToml("[grpc]\naddress = [1]\n", &c);
  CHECK(s.message() == "grpc.address must be a list of strings");
  s = ParseBuildkitdToml("[grpc.tls]\ncert = 5\n", &c);
  CHECK(s.message() == "grpc.tls.cert must be a string");
  s = ParseBuildkitdToml("grpc = 1\n", &c);
  CHECK(s.message() == "grpc must be a table");
}

TEST_CASE("buildkitd's flags win over its config file, key by key", "[exposure][discovery]") {
  BuildkitdGrpcConfig file;
  file.addresses = {"tcp://0.0.0.0:8372"};
  file.tls_cert = "/etc/buildkit/tls.crt";
  file.tls_ca = "/etc/buildkit/ca.crt";
  file.debug_address = "0.0.0.0:6060";
  BuildkitdFlags flags;
  BuildkitdListen l = MergeBuildkitdListen(flags, file);
  CHECK(l.addresses == file.addresses);
  CHECK(l.source == "buildkitd.toml");
  CHECK(l.tls_cert == "/etc/buildkit/tls.crt");
  flags.addresses = {"tcp://127.0.0.1:1234"};
  flags.tls_cert = "/etc/cert.pem";
  l = MergeBuildkitdListen(flags, file);
  CHECK(l.addresses == flags.addresses);
  CHECK(l.source == "--addr");
  CHECK(l.tls_cert == "/etc/cert.pem");
  CHECK(l.tls_ca == "/etc/buildkit/ca.crt");
  CHECK(l.debug_address == "0.0.0.0:6060");
  CHECK(MergeBuildkitdListen({}, {}).source.empty());
}

TEST_CASE("a listen address becomes the address the agent probes", "[exposure][discovery]") {
  CHECK(ProbeAddressFor("tcp://0.0.0.0:8372") == "tcp://127.0.0.1:8372");
  CHECK(ProbeAddressFor("tcp://:8372") == "tcp://127.0.0.1:8372");
  CHECK(ProbeAddressFor("tcp://[::]:8372") == "tcp://[::1]:8372");
  CHECK(ProbeAddressFor("tcp://10.1.2.3:1234") == "tcp://10.1.2.3:1234");
  CHECK(ProbeAddressFor("unix:///run/buildkit/buildkitd.sock").empty());
  CHECK(ProbeAddressFor("fd://").empty());
  CHECK(ProbeAddressFor("tcp://nohost").empty());
  CHECK(DebugAddressPort("0.0.0.0:6060") == 6060);
  CHECK(DebugAddressPort(":7070") == 7070);
  CHECK(DebugAddressPort("[::]:6061") == 6061);
  CHECK(DebugAddressPort("localhost") == 0);
  CHECK(DebugAddressPort("h:99999") == 0);
  CHECK(DebugAddressPort("") == 0);
}

}  // namespace
}  // namespace cachewarden
