#include "probes/exposure.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "probes/registry.h"
#include "tests/support/certs.h"
#include "tests/support/config_errors.h"
#include "tests/support/peers.h"
#include "tests/support/process.h"
#include "tests/support/tls_peers.h"

namespace cachewarden {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CertFiles;
using testing::ConfigErrorOf;
using testing::OpenSslServer;
using testing::TempDir;
using testing::WriteFile;

std::string MetricsText(const ProbeData& data) {
  MetricWriter w;
  data.ExportMetrics(w);
  return prometheus::TextSerializer().Serialize(w.Take());
}

ExposureOptions ReadOptions(const std::string& text) {
  const nlohmann::json doc = nlohmann::json::parse(text);
  nlohmann::json effective;
  ConfigReader r(&doc, "/probes/exposure", &effective);
  ExposureOptions o = ReadExposureOptions(r);
  r.Finish();
  return o;
}

ExposureOptions For(const std::string& address) {
  ExposureOptions o;
  o.addresses.clear();
  ExposureAddress a;
  std::string error;
  REQUIRE(ParseExposureAddress(address, &a, &error));
  o.addresses.push_back(a);
  o.handshake_timeout = seconds(5);
  o.process = "no-such-process-here";
  return o;
}

std::shared_ptr<const ExposureData> Run(Probe& probe, const ProbeContext& ctx) {
  std::shared_ptr<const ProbeData> out;
  REQUIRE(probe.Collect(ctx, &out).ok());
  auto data = std::dynamic_pointer_cast<const ExposureData>(out);
  REQUIRE(data != nullptr);
  return data;
}

std::shared_ptr<const ExposureData> RunOnce(const ExposureOptions& o, std::string proc = "/proc") {
  ProbeContext ctx;
  ctx.proc_root = std::move(proc);
  auto probe = NewExposureProbe(o);
  return Run(*probe, ctx);
}

// A CA and a server certificate it signs, valid `days`.
struct Pki {
  TempDir dir;
  CertFiles ca, server;
  explicit Pki(int days = 90) {
    REQUIRE(testing::MakeCa(dir.path(), "ca", &ca).empty());
    REQUIRE(testing::MakeSignedCert(dir.path(), "server", ca, &server, days).empty());
  }
  std::string Logs(const std::string& name) {
    std::filesystem::create_directories(dir / name);
    return dir / name;
  }
};

TEST_CASE("exposure: a TLS endpoint without -Verify accepts a client with no certificate",
          "[exposure][tls]") {
  Pki pki;
  OpenSslServer server(pki.Logs("s"), pki.server.cert, pki.server.key);
  REQUIRE(server.ready());
  auto data = RunOnce(For(server.address()));
  REQUIRE(data->endpoints.size() == 1);
  const auto& e = data->endpoints[0];
  INFO(e.status.ToString() << server.Stderr());
  REQUIRE(e.judged());
  CHECK(e.handshake.transport == Transport::kTls);
  CHECK_FALSE(e.handshake.client_cert_required);
  CHECK(e.handshake.alert.empty());
  REQUIRE(e.handshake.served);
  CHECK(e.handshake.served->subject == "CN=server");
  CHECK(e.handshake.served->issuer == "CN=ca");
  CHECK(e.handshake.served->sans == std::vector<std::string>{"IP:127.0.0.1", "DNS:localhost"});
  const double days = ToSeconds(e.handshake.served->not_after - RealClock::Get().Now()) / 86400;
  CHECK(days > 89);
  CHECK(days <= 90);
  const std::string text = MetricsText(*data);
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_endpoint_tls{address=\"" +
                                   server.address() + "\"} 1"));
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_client_cert_required{address=\"" +
                                   server.address() + "\"} 0"));
}

TEST_CASE(
    "exposure: a TLS endpoint with -Verify 1 refuses a client with no certificate (TLS 1.3 "
    "and 1.2)",
    "[exposure][tls]") {
  Pki pki;
  for (const char* version : {"-tls1_3", "-tls1_2"}) {
    INFO(version);
    OpenSslServer server(pki.Logs(version), pki.server.cert, pki.server.key,
                         {"-Verify", "1", "-CAfile", pki.ca.cert, version});
    REQUIRE(server.ready());
    auto data = RunOnce(For(server.address()));
    const auto& e = data->endpoints.at(0);
    INFO(e.status.ToString() << server.Stderr());
    REQUIRE(e.judged());
    CHECK(e.handshake.transport == Transport::kTls);
    CHECK(e.handshake.client_cert_required);
    CHECK_FALSE(e.handshake.alert.empty());
    // The served certificate is known even when the handshake was refused.
    REQUIRE(e.handshake.served);
    CHECK(e.handshake.served->subject == "CN=server");
    CHECK_THAT(MetricsText(*data), Catch::Contains("cachewarden_buildkit_client_cert_required{"
                                                   "address=\"" +
                                                   server.address() + "\"} 1"));
  }
}

TEST_CASE(
    "exposure: a certificate replaced on disk while the server keeps serving the old one is "
    "a reload pending",
    "[exposure][tls]") {
  Pki pki;
  OpenSslServer server(pki.Logs("s"), pki.server.cert, pki.server.key);
  REQUIRE(server.ready());
  ExposureOptions o = For(server.address());
  o.cert_file = pki.server.cert;
  ProbeContext ctx;
  auto probe = NewExposureProbe(o);
  auto same = Run(*probe, ctx);
  INFO(same->endpoints.at(0).status.ToString());
  REQUIRE(same->endpoints.at(0).judged());
  CHECK_FALSE(same->endpoints[0].reload_pending);
  CHECK_THAT(MetricsText(*same), Catch::Contains("cachewarden_buildkit_cert_reload_pending_seconds{"
                                                 "address=\"" +
                                                 server.address() + "\"} 0"));

  // The renewal: a new certificate (and key) written over the files the server loaded at start.
  CertFiles renewed;
  REQUIRE(testing::MakeSignedCert(pki.dir.path(), "renewed", pki.ca, &renewed, 30).empty());
  std::filesystem::copy_file(renewed.cert, pki.server.cert,
                             std::filesystem::copy_options::overwrite_existing);
  auto differ = Run(*probe, ctx);
  const auto& e = differ->endpoints.at(0);
  REQUIRE(e.judged());
  CHECK(e.reload_pending);
  REQUIRE(differ->disk_cert);
  REQUIRE(differ->disk_cert->cert);
  CHECK(differ->disk_cert->cert->sha256 != e.handshake.served->sha256);
  // Since the file changed (its mtime), not since this run: a one-shot check knows it too.
  CHECK(e.differs_since <= differ->collected);
  CHECK(e.differs_since > differ->collected - seconds(60));
  CHECK_THAT(MetricsText(*differ),
             Catch::Contains("cachewarden_buildkit_cert_file_expiry_timestamp_seconds{file=\"" +
                             pki.server.cert + "\",role=\"server\"}"));
}

TEST_CASE("exposure: a plaintext gRPC server is confirmed h2c, not TLS", "[exposure][h2c]") {
  testing::H2cGrpcServer server;
  REQUIRE(server.port() > 0);
  auto data = RunOnce(For(server.address()));
  const auto& e = data->endpoints.at(0);
  INFO(e.status.ToString());
  REQUIRE(e.judged());
  CHECK(e.handshake.transport == Transport::kPlaintext);
  CHECK_FALSE(e.handshake.served);
  const std::string text = MetricsText(*data);
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_endpoint_tls{address=\"" +
                                   server.address() + "\"} 0"));
  CHECK_THAT(text, !Catch::Contains("cachewarden_buildkit_client_cert_required"));
}

TEST_CASE("exposure: a refused address is reported, not judged, and the run still succeeds",
          "[exposure]") {
  testing::RefusingLoopbackPort refusing;
  const std::string address = "tcp://127.0.0.1:" + std::to_string(refusing.port());
  auto data = RunOnce(For(address));
  const auto& e = data->endpoints.at(0);
  CHECK_FALSE(e.judged());
  CHECK_THAT(e.status.ToString(), Catch::Contains("refused"));
  CHECK_THAT(MetricsText(*data),
             Catch::Contains("cachewarden_buildkit_endpoint_up{address=\"" + address + "\"} 0"));
}

TEST_CASE(
    "exposure: a server that accepts and never answers costs the handshake timeout, not a "
    "stuck run",
    "[exposure]") {
  // A listening socket nobody accepts on: the kernel completes the connection, nothing answers.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, 4) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ExposureOptions o = For("tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  o.handshake_timeout = milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  auto data = RunOnce(o);
  const auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  CHECK_FALSE(data->endpoints.at(0).judged());
  CHECK(data->endpoints[0].status.code() == StatusCode::kTimeout);
  CHECK(took >= milliseconds(400));  // the ClientHello's wait, then the preface's
  CHECK(took < seconds(3));
}

TEST_CASE("exposure: the bind check reads buildkitd's /proc/<pid>/net/tcp and tcp6",
          "[exposure][proc_net]") {
  TempDir proc;
  std::filesystem::create_directories(proc / "77/net");
  std::filesystem::create_directories(proc / "12/net");
  WriteFile(proc / "12/comm", "sh\n");
  WriteFile(proc / "77/comm", "buildkitd\n");
  const std::string fixtures = testing::SourceDir() + "/tests/fixtures/proc_net_tcp/";
  std::filesystem::copy_file(fixtures + "tcp", proc / "77/net/tcp");
  std::filesystem::copy_file(fixtures + "tcp6", proc / "77/net/tcp6");
  ExposureOptions o = For("tcp://127.0.0.1:8372");
  o.process = "buildkitd";
  o.handshake_timeout = milliseconds(50);
  auto data = RunOnce(o, proc.path());
  CHECK(data->pid == 77);
  REQUIRE(data->buildkit_ports.size() == 1);
  CHECK(data->buildkit_ports[0].port == 8372);
  CHECK(data->buildkit_ports[0].listening);
  CHECK(data->buildkit_ports[0].all_interfaces);
  CHECK(data->buildkit_ports[0].bound == std::vector<std::string>{"0.0.0.0", "::"});
  REQUIRE(data->debug_port);
  CHECK(data->debug_port->listening);  // 127.0.0.1:6060 and [::1]:6060
  CHECK_FALSE(data->debug_port->all_interfaces);
  const std::string text = MetricsText(*data);
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_listen_all_interfaces{port=\"8372\"} 1"));
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_debug_port_open{port=\"6060\"} 1"));

  // Only loopback: port 6060 of the fixture as the BuildKit port.
  o.addresses = For("tcp://127.0.0.1:6060").addresses;
  o.debug_port = 8080;
  data = RunOnce(o, proc.path());
  REQUIRE(data->buildkit_ports.size() == 1);
  CHECK(data->buildkit_ports[0].listening);
  CHECK_FALSE(data->buildkit_ports[0].all_interfaces);
  CHECK(data->debug_port->listening);  // ::ffff:127.0.0.1:8080, loopback only
  CHECK_FALSE(data->debug_port->all_interfaces);

  o.process = "77";
  o.debug_port = 9999;
  data = RunOnce(o, proc.path());
  CHECK(data->pid == 77);
  CHECK_FALSE(data->debug_port->listening);
  CHECK_THAT(MetricsText(*data),
             Catch::Contains("cachewarden_buildkit_debug_port_open{port=\"9999\"} 0"));

  o.process = "containerd";
  data = RunOnce(o, proc.path());
  CHECK(data->pid == 0);
  CHECK_THAT(data->process_error, Catch::Contains("no process named containerd"));
  CHECK_THAT(MetricsText(*data), !Catch::Contains("cachewarden_buildkit_debug_port_open"));
}

// A buildkitd as another container's /proc shows it: comm, cmdline and its root, in a fixture
// directory (the agent cannot make a second mount namespace's /proc/<pid>/root here); the server
// its config names is a real openssl s_server on loopback.
struct FakeBuildkitd {
  TempDir proc;
  std::string dir = proc / "55";
  explicit FakeBuildkitd(const std::string& cmdline) {
    std::filesystem::create_directories(dir + "/root/etc");
    WriteFile(dir + "/comm", "buildkitd\n");
    WriteFile(dir + "/cmdline", cmdline);
  }
  void Put(const std::string& path, const std::string& text) {
    const std::filesystem::path file = dir + "/root" + path;
    std::filesystem::create_directories(file.parent_path());
    WriteFile(file, text);
  }
};

TEST_CASE(
    "exposure: discovers buildkitd's TCP address, certificate and CA through its cmdline and "
    "buildkitd.toml under /proc/<pid>/root",
    "[exposure][discovery]") {
  using namespace std::string_literals;
  Pki pki;
  OpenSslServer server(pki.Logs("s"), pki.server.cert, pki.server.key);
  REQUIRE(server.ready());
  FakeBuildkitd bk("buildkitd\0--config=/etc/buildkitd.toml\0--debugaddr\0:7070\0"s);
  bk.Put("/etc/buildkitd.toml",
         fmt::format("[grpc]\naddress = [\"unix:///run/buildkit/buildkitd.sock\", "
                     "\"tcp://0.0.0.0:{}\"]\n[grpc.tls]\ncert = \"/etc/cert.pem\"\n"
                     "key = \"/etc/key.pem\"\nca = \"/etc/ca.pem\"\n",
                     server.port()));
  // The certificate file was renewed; the server still serves the one it started with.
  CertFiles renewed;
  REQUIRE(testing::MakeSignedCert(pki.dir.path(), "renewed", pki.ca, &renewed, 30).empty());
  bk.Put("/etc/cert.pem", testing::ReadFile(renewed.cert));
  bk.Put("/etc/ca.pem", testing::ReadFile(pki.ca.cert));
  ExposureOptions o = For("tcp://127.0.0.1:1");  // configured: refused, still probed first
  o.handshake_timeout = seconds(5);
  o.process = "buildkitd";
  auto data = RunOnce(o, bk.proc.path());
  CHECK(data->pid == 55);
  INFO(data->ToJson().dump());
  CHECK(data->discovery.error.empty());
  REQUIRE(data->endpoints.size() == 2);
  CHECK(data->endpoints[0].source == "configured");
  const EndpointExposure& found = data->endpoints[1];
  CHECK(found.address == server.address());
  CHECK(found.source == "buildkitd.toml");
  CHECK(found.listen == fmt::format("tcp://0.0.0.0:{}", server.port()));
  REQUIRE(found.judged());
  CHECK(found.handshake.transport == Transport::kTls);
  CHECK(found.reload_pending);  // the renewed file against the served certificate
  REQUIRE(data->disk_cert);
  CHECK(data->disk_cert->name() == "/etc/cert.pem");
  CHECK(data->disk_cert->path == bk.dir + "/root/etc/cert.pem");
  REQUIRE(data->cert_files.size() == 1);
  CHECK(data->cert_files[0].role == "ca");
  CHECK(data->cert_files[0].cert);
  REQUIRE(data->debug_port);
  CHECK(data->debug_port->port == 7070);  // --debugaddr, as debug_port is not configured
  const auto j = data->ToJson();
  CHECK(j["discovery"]["listen_source"] == "buildkitd.toml");
  CHECK(j["discovery"]["config_read"] == bk.dir + "/root/etc/buildkitd.toml");
  CHECK(j["cert_file"]["path"] == "/etc/cert.pem");
  const std::string text = MetricsText(*data);
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_cert_file_readable{file=\"/etc/cert.pem\","
                                   "role=\"server\"} 1"));
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_endpoint_tls{address=\"" +
                                   server.address() + "\"} 1"));

  // --addr replaces the config's addresses; a configured debug_port and cert_file are kept; with
  // discover off, nothing of buildkitd's is read.
  WriteFile(bk.dir + "/cmdline", "buildkitd\0--addr\0tcp://127.0.0.1:"s +
                                     std::to_string(server.port()) +
                                     "\0--config\0/etc/buildkitd.toml\0"s);
  o.debug_port_configured = true;
  o.cert_file = pki.server.cert;
  data = RunOnce(o, bk.proc.path());
  REQUIRE(data->endpoints.size() == 2);
  CHECK(data->endpoints[1].source == "--addr");
  CHECK_FALSE(data->endpoints[1].reload_pending);
  CHECK(data->disk_cert->path == pki.server.cert);
  CHECK(data->debug_port->port == 6060);
  o.discover = false;
  data = RunOnce(o, bk.proc.path());
  CHECK(data->endpoints.size() == 1);
  CHECK_FALSE(data->discovery.ran);
  CHECK(data->cert_files.empty());
}

TEST_CASE(
    "exposure: buildkitd's config and certificates behind absolute symlinks are read as buildkitd "
    "sees them, inside its root",
    "[exposure][discovery]") {
  using namespace std::string_literals;
  Pki pki;
  FakeBuildkitd bk("buildkitd\0--config=/etc/buildkitd.toml\0"s);
  // A ConfigMap and a Secret as Kubernetes mounts them: the names are symlinks, ..data one of them,
  // and the Secret's is absolute. Followed from the agent's side, /certs/tls.crt would be the
  // agent's own file (there is none), not buildkitd's.
  bk.Put("/config/..2026_12_01/buildkitd.toml",
         "[grpc]\naddress = [\"tcp://0.0.0.0:1\"]\n[grpc.tls]\ncert = \"/etc/cert.pem\"\n");
  REQUIRE(::symlink("..2026_12_01", (bk.dir + "/root/config/..data").c_str()) == 0);
  REQUIRE(::symlink("/config/..data/buildkitd.toml",
                    (bk.dir + "/root/etc/buildkitd.toml").c_str()) == 0);
  bk.Put("/certs/tls.crt", testing::ReadFile(pki.server.cert));
  REQUIRE(::symlink("/certs/tls.crt", (bk.dir + "/root/etc/cert.pem").c_str()) == 0);
  ExposureOptions o = For("tcp://127.0.0.1:1");
  o.process = "buildkitd";
  o.handshake_timeout = milliseconds(200);
  auto data = RunOnce(o, bk.proc.path());
  INFO(data->ToJson().dump());
  CHECK(data->discovery.error.empty());
  CHECK(data->discovery.config_read == bk.dir + "/root/etc/buildkitd.toml");
  REQUIRE(data->disk_cert);
  CHECK(data->disk_cert->name() == "/etc/cert.pem");
  CHECK(data->disk_cert->status.ok());
  CHECK(data->disk_cert->cert);
  CHECK(data->disk_cert->mtime != SystemTime{});
}

TEST_CASE("exposure: reads the GC settings of buildkitd's config file, and their cap",
          "[exposure][discovery]") {
  using namespace std::string_literals;
  FakeBuildkitd bk("buildkitd\0--config=/etc/buildkitd.toml\0"s);
  bk.Put("/etc/buildkitd.toml",
         "[worker.oci]\n  gc = true\n  [[worker.oci.gcpolicy]]\n    keepBytes = \"20GB\"\n"
         "  [[worker.oci.gcpolicy]]\n    all = true\n    keepBytes = 64424509440\n");
  ExposureOptions o = For("tcp://127.0.0.1:1");
  o.process = "buildkitd";
  o.handshake_timeout = milliseconds(200);
  auto data = RunOnce(o, bk.proc.path());
  INFO(data->ToJson().dump());
  REQUIRE(data->discovery.gc);
  REQUIRE(data->discovery.gc->workers.size() == 1);
  CHECK(data->discovery.gc->workers[0].policies.size() == 2);
  REQUIRE(data->discovery.gc_cap);
  CHECK(data->discovery.gc_cap->bytes == 64424509440);
  CHECK(data->ToJson()["discovery"]["gc_cap"]["bytes"] == 64424509440);
  CHECK_THAT(MetricsText(*data),
             Catch::Contains("cachewarden_buildkitd_config_gc_cap_bytes{reading=\"bytes\"} "
                             "64424509440"));
  // A key of the wrong type: named, and the listening part of the file still counts.
  bk.Put("/etc/buildkitd.toml", "[worker.oci]\n  gckeepstorage = true\n");
  data = RunOnce(o, bk.proc.path());
  CHECK_FALSE(data->discovery.gc);
  CHECK_THAT(data->discovery.gc_error, Catch::Contains("gckeepstorage"));
  CHECK(data->discovery.error.empty());
  CHECK_THAT(MetricsText(*data), !Catch::Contains("cachewarden_buildkitd_config_gc_cap_bytes"));
}

TEST_CASE("exposure: a broken buildkitd.toml is reported and the flags still count",
          "[exposure][discovery]") {
  using namespace std::string_literals;
  FakeBuildkitd bk("buildkitd\0--addr=tcp://0.0.0.0:1\0"s);
  bk.Put("/etc/buildkit/buildkitd.toml", "[grpc\naddress = 1\n");
  ExposureOptions o = For("tcp://127.0.0.1:1");
  o.process = "buildkitd";
  o.handshake_timeout = milliseconds(200);
  auto data = RunOnce(o, bk.proc.path());
  CHECK_THAT(data->discovery.error, Catch::Contains("/root/etc/buildkit/buildkitd.toml: line 1"));
  // tcp://0.0.0.0:1 is probed as tcp://127.0.0.1:1: the configured address, listed once.
  REQUIRE(data->endpoints.size() == 1);
  CHECK(data->endpoints[0].source == "configured");
  CHECK(data->endpoints[0].listen == "tcp://0.0.0.0:1");
  // No config at the default path is no error: buildkitd runs without one.
  std::filesystem::remove(bk.dir + "/root/etc/buildkit/buildkitd.toml");
  data = RunOnce(o, bk.proc.path());
  CHECK(data->discovery.error.empty());
  CHECK(data->discovery.config_read.empty());
  CHECK(data->ToJson()["discovery"]["listen_source"] == "--addr");
}

TEST_CASE("exposure: CA and client certificate files report the one that expires first",
          "[exposure]") {
  Pki pki(30);
  CertFiles shortlived;
  REQUIRE(testing::MakeSignedCert(pki.dir.path(), "short", pki.ca, &shortlived, 2).empty());
  // A bundle: the 30-day certificate, then the 2-day one.
  WriteFile(pki.dir / "bundle.pem",
            testing::ReadFile(pki.server.cert) + testing::ReadFile(shortlived.cert));
  ExposureOptions o = For("tcp://127.0.0.1:1");
  o.handshake_timeout = milliseconds(50);
  o.ca_files = {pki.ca.cert};
  o.client_cert_files = {pki.dir / "bundle.pem", pki.dir / "missing.pem"};
  auto data = RunOnce(o);
  REQUIRE(data->cert_files.size() == 3);
  CHECK(data->cert_files[0].role == "ca");
  REQUIRE(data->cert_files[0].cert);
  CHECK(data->cert_files[0].cert->subject == "CN=ca");
  REQUIRE(data->cert_files[1].cert);
  CHECK(data->cert_files[1].cert->subject == "CN=short");
  CHECK(data->cert_files[1].role == "client");
  CHECK_FALSE(data->cert_files[2].cert);
  CHECK(data->cert_files[2].status.code() == StatusCode::kMissing);
  const std::string text = MetricsText(*data);
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_cert_file_readable{file=\"" +
                                   (pki.dir / "missing.pem") + "\",role=\"client\"} 0"));
}

TEST_CASE("probes.exposure reads its keys strictly", "[exposure][config]") {
  const ExposureOptions d = ReadOptions("{}");
  REQUIRE(d.addresses.size() == 1);
  CHECK(d.addresses[0].host == "127.0.0.1");
  CHECK(d.addresses[0].port == 8372);
  CHECK(d.process == "buildkitd");
  CHECK(d.debug_port == 6060);
  const ExposureOptions v6 = ReadOptions(R"({"address": ["tcp://[::1]:1234", "tcp://bk:99"]})");
  CHECK(v6.addresses[0].host == "::1");
  CHECK(v6.addresses[0].port == 1234);
  CHECK(v6.addresses[1].host == "bk");
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"address": ["unix:///run/b.sock"]})"); }),
             Catch::Contains("not a TCP address"));
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"address": ["tcp://h:0"]})"); }),
             Catch::Contains("1..65535"));
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"address": ["tcp://::1:8372"]})"); }),
             Catch::Contains("brackets"));
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"address": []})"); }),
             Catch::Contains("at least one"));
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"cert_file": "cert.pem"})"); }),
             Catch::Contains("absolute"));
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"ca_file": ["ca.pem"]})"); }),
             Catch::Contains("absolute"));
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"debug_port": 70000})"); }),
             Catch::Contains("debug_port"));
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"adress": []})"); }), Catch::Contains("adress"));
  CHECK(d.discover);
  CHECK_FALSE(d.debug_port_configured);
  CHECK(ReadOptions(R"({"debug_port": 6060})").debug_port_configured);
  CHECK_FALSE(ReadOptions(R"({"discover": false})").discover);
  CHECK_THAT(ConfigErrorOf([] { ReadOptions(R"({"discover": "yes"})"); }),
             Catch::Contains("discover"));
}

TEST_CASE("the exposure probe is in the table, off by default", "[exposure][config]") {
  bool found = false;
  for (const auto& e : ProbeTable()) {
    if (e.name == "exposure") {
      found = true;
      CHECK_FALSE(e.enabled_by_default);
    }
  }
  CHECK(found);
}

}  // namespace
}  // namespace cachewarden
