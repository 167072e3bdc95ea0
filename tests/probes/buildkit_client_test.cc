// The buildkit probe over unix:// against a gRPC server written in the test from the same .proto
// subset (a fake): the only real BuildKit on this machine is dockerd 20.10's (see
// buildkit_dockerd_test.cc), which has no Info, none of BuildKit 0.17's GC fields and none of
// Earthly's, and cannot be made to hang on a call. Those are what this checks.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "probes/buildkit.h"
#include "probes/buildkit/proto/control.grpc.pb.h"
#include "tests/support/grpc_server.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

namespace pb = ::moby::buildkit::v1;
using Clock = std::chrono::steady_clock;

class FakeControl final : public pb::Control::Service {
 public:
  bool serve_info = true;
  bool hang_disk_usage = false;

  grpc::Status DiskUsage(grpc::ServerContext* /*ctx*/, const pb::DiskUsageRequest* /*req*/,
                         pb::DiskUsageResponse* resp) override {
    if (hang_disk_usage) {
      // A daemon stuck behind its own lock: answers only once the test lets it.
      std::unique_lock lock(mu_);
      released_.wait(lock, [this] { return release_; });
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "released");
    }
    auto* r = resp->add_record();
    r->set_id("r1");
    r->set_recordtype("exec.cachemount");
    r->set_size(4096);
    r->set_inuse(true);
    r->mutable_lastusedat()->set_seconds(1'700'000'000);
    auto* r2 = resp->add_record();
    r2->set_id("r2");
    r2->set_recordtype("regular");
    r2->set_size(100);
    r2->set_shared(true);
    return grpc::Status::OK;
  }

  grpc::Status ListWorkers(grpc::ServerContext* /*ctx*/, const pb::ListWorkersRequest* /*req*/,
                           pb::ListWorkersResponse* resp) override {
    auto* w = resp->add_record();
    w->set_id("worker-1");
    (*w->mutable_labels())["org.mobyproject.buildkit.worker.snapshotter"] = "overlayfs";
    auto* p = w->add_platforms();
    p->set_os("linux");
    p->set_architecture("arm");
    p->set_variant("v7");
    auto* g = w->add_gcpolicy();
    g->set_keepbytes(10LL << 30);  // reservedSpace
    g->set_maxusedspace(100LL << 30);
    g->set_minfreespace(20LL << 30);
    g->set_keepduration(3'600'000'000'000LL);  // 1h in nanoseconds
    g->add_filters("type==source.local");
    // Earthly's fork's fields: the client has no use for them yet and must not mind them.
    w->set_parallelismcurrent(3);
    w->set_parallelismmax(20);
    w->mutable_buildkitversion()->set_version("v0.16.0-from-worker");
    return grpc::Status::OK;
  }

  grpc::Status Info(grpc::ServerContext* /*ctx*/, const pb::InfoRequest* /*req*/,
                    pb::InfoResponse* resp) override {
    if (!serve_info) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method Info");
    resp->mutable_buildkitversion()->set_package("github.com/moby/buildkit");
    resp->mutable_buildkitversion()->set_version("v0.17.0");
    return grpc::Status::OK;
  }

  void Release() {
    {
      std::lock_guard lock(mu_);
      release_ = true;
    }
    released_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable released_;
  bool release_ = false;
};

using FakeServer = testing::UnixGrpcServer;

Status Collect(const std::string& address, Duration call_timeout,
               std::shared_ptr<const ProbeData>* out) {
  BuildkitOptions o;
  BuildkitAddress a;
  std::string error;
  REQUIRE(ParseBuildkitAddress(address, &a, &error));
  o.addresses = {a};
  o.call_timeout = call_timeout;
  ProbeContext ctx;
  return NewBuildkitProbe(o)->Collect(ctx, out);
}

TEST_CASE("buildkit over unix:// reads BuildKit 0.17's GC fields and Info's version",
          "[buildkit][grpc]") {
  testing::TempDir dir;
  FakeControl service;
  FakeServer server(dir / "buildkitd.sock", &service);
  std::shared_ptr<const ProbeData> out;
  const Status s = Collect("unix://" + dir / "buildkitd.sock", std::chrono::seconds(10), &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  const auto& d = dynamic_cast<const BuildkitData&>(*out);
  CHECK(d.info_served);
  CHECK(d.version.version == "v0.17.0");  // Info wins over the worker's record
  CHECK(d.usage.records == 2);
  CHECK(d.usage.in_use_bytes == 4096);
  CHECK(d.usage.shared_bytes == 100);
  CHECK(d.usage.reclaimable_bytes == 100);
  REQUIRE(d.workers.size() == 1);
  const auto& w = d.workers[0];
  CHECK(w.labels.at("org.mobyproject.buildkit.worker.snapshotter") == "overlayfs");
  CHECK(w.platforms == std::vector<std::string>{"linux/arm/v7"});
  REQUIRE(w.gc_policies.size() == 1);
  const auto& p = w.gc_policies[0];
  CHECK(p.keep_bytes == 10LL << 30);
  CHECK(p.max_used_space == 100LL << 30);
  CHECK(p.min_free_space == 20LL << 30);
  CHECK(p.keep_duration == std::chrono::hours(1));
  CHECK(p.filters == std::vector<std::string>{"type==source.local"});
}

TEST_CASE("buildkit without Info takes the version from its worker", "[buildkit][grpc]") {
  testing::TempDir dir;
  FakeControl service;
  service.serve_info = false;
  FakeServer server(dir / "buildkitd.sock", &service);
  std::shared_ptr<const ProbeData> out;
  const Status s = Collect("unix://" + dir / "buildkitd.sock", std::chrono::seconds(10), &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  const auto& d = dynamic_cast<const BuildkitData&>(*out);
  CHECK_FALSE(d.info_served);
  CHECK(d.version.version == "v0.16.0-from-worker");
}

TEST_CASE("buildkit that accepts and never answers fails the run at its call deadline",
          "[buildkit][grpc]") {
  testing::TempDir dir;
  FakeControl service;
  service.hang_disk_usage = true;
  FakeServer server(dir / "buildkitd.sock", &service);
  std::shared_ptr<const ProbeData> out;
  const auto start = Clock::now();
  const Status s =
      Collect("unix://" + dir / "buildkitd.sock", std::chrono::milliseconds(300), &out);
  const auto took = Clock::now() - start;
  service.Release();  // before the server's shutdown, which waits for the handler
  CHECK(s.code() == StatusCode::kTimeout);
  CHECK(s.message().find("DiskUsage") != std::string::npos);
  CHECK(took >= std::chrono::milliseconds(300));
  CHECK(took < std::chrono::seconds(5));
  CHECK(out == nullptr);
}

}  // namespace
}  // namespace cachewarden
