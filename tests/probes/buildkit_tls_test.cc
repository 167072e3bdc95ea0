// The buildkit probe over tcp:// with mTLS (`probes.buildkit.tls`) against an in-process gRPC
// server on 127.0.0.1 with SslServerCredentials that require and verify a client certificate, as
// buildkitd does with --tlscacert (Earthly's BUILDKIT_TLS_ENABLED). The certificates are real ones
// made with openssl (tests/support/certs.h). The server is a fake Control service (written in the
// test from the same .proto subset): no buildkitd with TLS runs here; the TLS is the real thing.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "probes/buildkit.h"
#include "probes/buildkit/proto/control.grpc.pb.h"
#include "tests/support/certs.h"
#include "tests/support/fake_proc.h"
#include "tests/support/grpc_server.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

namespace pb = ::moby::buildkit::v1;

class OneRecordControl final : public pb::Control::Service {
 public:
  grpc::Status DiskUsage(grpc::ServerContext* /*ctx*/, const pb::DiskUsageRequest* /*req*/,
                         pb::DiskUsageResponse* resp) override {
    auto* r = resp->add_record();
    r->set_id("r1");
    r->set_recordtype("regular");
    r->set_size(4096);
    return grpc::Status::OK;
  }
  grpc::Status ListWorkers(grpc::ServerContext* /*ctx*/, const pb::ListWorkersRequest* /*req*/,
                           pb::ListWorkersResponse* resp) override {
    resp->add_record()->set_id("w1");
    return grpc::Status::OK;
  }
};

// A CA, a server certificate and a client certificate it signed, and a second CA that signed
// neither.
struct Pki {
  testing::TempDir dir;
  testing::CertFiles ca, server, client, other_ca, other_client;
  Pki() {
    REQUIRE(testing::MakeCa(dir.path(), "ca", &ca).empty());
    REQUIRE(testing::MakeSignedCert(dir.path(), "server", ca, &server).empty());
    REQUIRE(testing::MakeSignedCert(dir.path(), "client", ca, &client).empty());
    REQUIRE(testing::MakeCa(dir.path(), "other-ca", &other_ca).empty());
    REQUIRE(testing::MakeSignedCert(dir.path(), "other-client", other_ca, &other_client).empty());
  }
};

BuildkitTls Tls(std::string ca, std::string cert, std::string key) {
  BuildkitTls t;
  t.ca = std::move(ca);
  t.cert = std::move(cert);
  t.key = std::move(key);
  return t;
}

std::shared_ptr<grpc::ServerCredentials> MtlsServer(const Pki& pki) {
  grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = testing::ReadFile(pki.ca.cert);
  o.pem_key_cert_pairs.push_back(
      {testing::ReadFile(pki.server.key), testing::ReadFile(pki.server.cert)});
  return grpc::SslServerCredentials(o);
}

Status Collect(int port, std::optional<BuildkitTls> tls, std::shared_ptr<const ProbeData>* out) {
  BuildkitOptions o;
  BuildkitAddress a;
  std::string error;
  REQUIRE(ParseBuildkitAddress("tcp://127.0.0.1:" + std::to_string(port), &a, &error));
  a.tls = std::move(tls);
  o.addresses = {a};
  o.call_timeout = std::chrono::seconds(10);
  return NewBuildkitProbe(o)->Collect(ProbeContext{}, out);
}

TEST_CASE("buildkit over tcp:// with mTLS answers with the right client certificate",
          "[buildkit][grpc][tls]") {
  Pki pki;
  OneRecordControl service;
  testing::GrpcServer server("127.0.0.1:0", MtlsServer(pki), {&service});
  REQUIRE(server.port() > 0);
  std::shared_ptr<const ProbeData> out;
  const Status s = Collect(server.port(), Tls(pki.ca.cert, pki.client.cert, pki.client.key), &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  const auto& d = dynamic_cast<const BuildkitData&>(*out);
  CHECK(d.usage.records == 1);
  CHECK(d.usage.total_bytes == 4096);
  CHECK(d.address == "tcp://127.0.0.1:" + std::to_string(server.port()));

  // server_name: the name checked in the server's certificate ("localhost" is in it, this is not).
  BuildkitTls named = Tls(pki.ca.cert, pki.client.cert, pki.client.key);
  named.server_name = "localhost";
  CHECK(Collect(server.port(), named, &out).ok());
  named.server_name = "buildkitd.example";
  const Status wrong_name = Collect(server.port(), named, &out);
  INFO(wrong_name.ToString());
  CHECK(wrong_name.code() == StatusCode::kIo);
}

TEST_CASE("buildkit over tcp:// with mTLS fails with a reason without a client certificate",
          "[buildkit][grpc][tls]") {
  Pki pki;
  OneRecordControl service;
  testing::GrpcServer server("127.0.0.1:0", MtlsServer(pki), {&service});
  std::shared_ptr<const ProbeData> out;
  const auto start = std::chrono::steady_clock::now();
  const Status s = Collect(server.port(), Tls(pki.ca.cert, "", ""), &out);
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kIo);
  CHECK_THAT(s.message(), Catch::Contains("DiskUsage") && Catch::Contains("gRPC code 14"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  REQUIRE(dynamic_cast<const BuildkitDownData*>(out.get()) != nullptr);

  // A client certificate another CA signed: refused the same way.
  const Status foreign =
      Collect(server.port(), Tls(pki.ca.cert, pki.other_client.cert, pki.other_client.key), &out);
  INFO(foreign.ToString());
  CHECK(foreign.code() == StatusCode::kIo);
}

TEST_CASE("buildkit over tcp:// with mTLS fails with a reason when the CA is not the server's",
          "[buildkit][grpc][tls]") {
  Pki pki;
  OneRecordControl service;
  testing::GrpcServer server("127.0.0.1:0", MtlsServer(pki), {&service});
  std::shared_ptr<const ProbeData> out;
  const Status s =
      Collect(server.port(), Tls(pki.other_ca.cert, pki.client.cert, pki.client.key), &out);
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kIo);
  CHECK_THAT(s.message(), Catch::Contains("DiskUsage") && Catch::Contains("gRPC code 14"));

  // Plaintext against the TLS port: refused too, never silently downgraded.
  const Status plain = Collect(server.port(), std::nullopt, &out);
  INFO(plain.ToString());
  CHECK_FALSE(plain.ok());
}

TEST_CASE("buildkit over tcp:// names the tls file it cannot read", "[buildkit][tls]") {
  testing::TempDir dir;
  testing::WriteFile(dir / "not-pem", "hello\n");
  std::shared_ptr<const ProbeData> out;
  Status s = Collect(1, Tls(dir / "missing.pem", "", ""), &out);
  CHECK(s.code() == StatusCode::kMissing);
  CHECK_THAT(s.message(), Catch::Contains("cannot read tls.ca"));
  CHECK_THAT(s.message(), Catch::Contains(dir / "missing.pem"));
  s = Collect(1, Tls(dir / "not-pem", "", ""), &out);
  CHECK(s.code() == StatusCode::kParse);
  CHECK_THAT(s.message(), Catch::Contains("tls.ca " + dir / "not-pem holds no PEM block"));
}

TEST_CASE(
    "buildkit over tcp:// reads tls files missing here inside buildkitd's root, through "
    "/proc/<pid>/root",
    "[buildkit][grpc][tls]") {
  // Earthly's image keeps the certificates at /etc/*.pem in buildkitd's container: a sidecar sees
  // them only through /proc/<pid>/root. The /proc here is a fixture directory (no second mount
  // namespace is made); the files, the TLS and the server are real.
  Pki pki;
  OneRecordControl service;
  testing::GrpcServer server("127.0.0.1:0", MtlsServer(pki), {&service});
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "bk-root/etc/cw-absent");
  testing::FakeBuildkitdProc(dir);
  std::filesystem::copy_file(pki.ca.cert, dir / "bk-root/etc/cw-absent/ca.pem");
  std::filesystem::copy_file(pki.client.cert, dir / "bk-root/etc/cw-absent/cert.pem");
  std::filesystem::copy_file(pki.client.key, dir / "bk-root/etc/cw-absent/key.pem");

  BuildkitOptions o;
  BuildkitAddress a;
  std::string error;
  REQUIRE(ParseBuildkitAddress("tcp://127.0.0.1:" + std::to_string(server.port()), &a, &error));
  a.tls = Tls("/etc/cw-absent/ca.pem", "/etc/cw-absent/cert.pem", "/etc/cw-absent/key.pem");
  o.addresses = {a};
  o.call_timeout = std::chrono::seconds(10);
  ProbeContext ctx;
  ctx.proc_root = dir / "proc";
  std::shared_ptr<const ProbeData> out;
  Status s = NewBuildkitProbe(o)->Collect(ctx, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  const auto& d = dynamic_cast<const BuildkitData&>(*out);
  CHECK(d.usage.records == 1);
  CHECK(d.reached_through == dir / "proc/77/root");

  // Only inside that root: a file missing there too fails with both reasons, and a file that is
  // here is never looked for there.
  std::filesystem::remove(dir / "bk-root/etc/cw-absent/key.pem");
  s = NewBuildkitProbe(o)->Collect(ctx, &out);
  CHECK(s.code() == StatusCode::kMissing);
  CHECK_THAT(s.message(), Catch::Contains("cannot read tls.ca"));
  CHECK_THAT(s.message(), Catch::Contains("through " + dir / "proc/77/root"));
  CHECK_THAT(s.message(), Catch::Contains("cannot read tls.key"));
  o.addresses[0].tls = Tls(pki.ca.cert, pki.client.cert, dir / "nowhere/key.pem");
  s = NewBuildkitProbe(o)->Collect(ctx, &out);
  CHECK(s.code() == StatusCode::kMissing);
  CHECK_THAT(s.message(), Catch::Contains("through " + dir / "proc/77/root"));
}

}  // namespace
}  // namespace cachewarden
