// The buildkit probe over unix:// against a gRPC server written in the test from the same .proto
// subset (a fake): the only real BuildKit on this machine is dockerd 20.10's (see
// buildkit_dockerd_test.cc), which has no Info, none of BuildKit 0.17's GC fields and none of
// Earthly's, and cannot be made to hang on a call. Those are what this checks.
#include <grpcpp/grpcpp.h>
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "probes/buildkit.h"
#include "probes/buildkit/proto/control.grpc.pb.h"
#include "probes/buildkit/proto/health.grpc.pb.h"
#include "tests/support/fake_proc.h"
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
  bool earthly = false;  // serve Earthly's fork's fields

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
    w->mutable_buildkitversion()->set_version("v0.16.0-from-worker");
    if (earthly) {
      // Fields only Earthly's fork serves: fake server.
      w->set_parallelismcurrent(20);
      w->set_parallelismmax(20);
      w->set_parallelismwaiting(7);
      auto* a = w->mutable_gcanalytics();
      a->set_numruns(10);
      a->set_numfailures(2);
      a->set_avgdurationms(1500);
      a->set_alltimeruns(42);
      a->set_alltimemaxdurationms(400'000);
      a->set_currentstarttimesecepoch(1'700'000'900);
      a->set_currentsizebefore(9LL << 30);
      a->set_laststarttimesecepoch(1'700'000'000);
      a->set_lastendtimesecepoch(1'700'000'360);  // six minutes
      a->set_lastsizebefore(8LL << 30);
      a->set_lastsizecleared(3LL << 30);
      a->set_lastnumrecordscleared(120);
      a->set_lastsuccess(false);
    }
    return grpc::Status::OK;
  }

  grpc::Status Info(grpc::ServerContext* /*ctx*/, const pb::InfoRequest* /*req*/,
                    pb::InfoResponse* resp) override {
    if (!serve_info) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method Info");
    resp->mutable_buildkitversion()->set_package("github.com/moby/buildkit");
    resp->mutable_buildkitversion()->set_version("v0.17.0");
    if (earthly) {
      resp->set_numsessions(3);
      resp->set_secondsidle(0);
    }
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

std::string MetricsText(const ProbeData& data) {
  MetricWriter w;
  data.ExportMetrics(w);
  return prometheus::TextSerializer().Serialize(w.Take());
}

class FakeHealth final : public grpc::health::v1::Health::Service {
 public:
  grpc::health::v1::HealthCheckResponse::ServingStatus status =
      grpc::health::v1::HealthCheckResponse::SERVING;
  grpc::Status Check(grpc::ServerContext* /*ctx*/,
                     const grpc::health::v1::HealthCheckRequest* /*req*/,
                     grpc::health::v1::HealthCheckResponse* resp) override {
    resp->set_status(status);
    return grpc::Status::OK;
  }
};

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
  // Only the failure data (the address and why), never the figures of a partial run.
  const auto* down = dynamic_cast<const BuildkitDownData*>(out.get());
  REQUIRE(down != nullptr);
  REQUIRE(down->unreachable.size() == 1);
  CHECK(down->unreachable[0].status.code() == StatusCode::kTimeout);
}

TEST_CASE("buildkit reports its health service's status and unknown where there is none",
          "[buildkit][grpc]") {
  testing::TempDir dir;
  FakeControl service;
  std::shared_ptr<const ProbeData> out;
  {
    // No health service (as the fake without it): "unknown", and the run still succeeds.
    FakeServer server(dir / "buildkitd.sock", &service);
    const Status s = Collect("unix://" + dir / "buildkitd.sock", std::chrono::seconds(10), &out);
    INFO(s.ToString());
    REQUIRE(s.ok());
    const auto& d = dynamic_cast<const BuildkitData&>(*out);
    CHECK(d.health == BuildkitHealth::kUnknown);
    CHECK_FALSE(d.health_served);
    CHECK(d.ToJson()["health"] == "unknown");
    CHECK_THAT(MetricsText(d),
               Catch::Contains("cachewarden_buildkit_health{status=\"unknown\"} 1"));
  }
  FakeHealth health;
  for (const auto& [status, name] :
       {std::pair{grpc::health::v1::HealthCheckResponse::SERVING, "serving"},
        std::pair{grpc::health::v1::HealthCheckResponse::NOT_SERVING, "not_serving"}}) {
    INFO(name);
    health.status = status;
    FakeServer server(dir / "buildkitd.sock", {&service, &health});
    const Status s = Collect("unix://" + dir / "buildkitd.sock", std::chrono::seconds(10), &out);
    INFO(s.ToString());
    REQUIRE(s.ok());
    const auto& d = dynamic_cast<const BuildkitData&>(*out);
    CHECK(d.health_served);
    CHECK(d.ToJson()["health"] == name);
    const std::string text = MetricsText(d);
    CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_health{status=\"" + std::string(name) +
                                     "\"} 1"));
    CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_health{status=\"unknown\"} 0"));
  }
}

// Fields only Earthly's fork serves: fake server.
TEST_CASE("buildkit reads Earthly's fork's parallelism, GC analytics and sessions",
          "[buildkit][grpc]") {
  testing::TempDir dir;
  FakeControl service;
  service.earthly = true;
  FakeServer server(dir / "buildkitd.sock", &service);
  std::shared_ptr<const ProbeData> out;
  const Status s = Collect("unix://" + dir / "buildkitd.sock", std::chrono::seconds(10), &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  const auto& d = dynamic_cast<const BuildkitData&>(*out);
  REQUIRE(d.workers.size() == 1);
  const auto& w = d.workers[0];
  REQUIRE(w.parallelism.has_value());
  CHECK(w.parallelism->current == 20);
  CHECK(w.parallelism->max == 20);
  CHECK(w.parallelism->waiting == 7);
  REQUIRE(w.gc_analytics.has_value());
  const auto& a = *w.gc_analytics;
  CHECK(a.recent_runs == 10);
  CHECK(a.recent_failures == 2);
  CHECK(a.avg_duration == std::chrono::milliseconds(1500));
  CHECK(a.all_time_runs == 42);
  CHECK(a.all_time_max_duration == std::chrono::seconds(400));
  REQUIRE(a.current_start.has_value());
  CHECK(ToUnixSeconds(*a.current_start) == 1'700'000'900);
  CHECK(a.last_duration() == std::chrono::minutes(6));
  CHECK(a.last_size_before == 8LL << 30);
  CHECK(a.last_size_cleared == 3LL << 30);
  CHECK(a.last_records_cleared == 120);
  CHECK_FALSE(a.last_success);
  REQUIRE(d.sessions.has_value());
  CHECK(d.sessions->sessions == 3);

  const nlohmann::json j = d.ToJson();
  CHECK(j["workers"][0]["parallelism"]["waiting"] == 7);
  CHECK(j["workers"][0]["gc_analytics"]["recent_failures"] == 2);
  CHECK(j["workers"][0]["gc_analytics"]["running"] == true);
  CHECK(j["workers"][0]["gc_analytics"]["last_duration_seconds"] == 360.0);
  CHECK(j["sessions"]["sessions"] == 3);
  const std::string text = MetricsText(d);
  for (const char* line : {
           "cachewarden_buildkit_parallelism_current{worker=\"worker-1\"} 20",
           "cachewarden_buildkit_parallelism_max{worker=\"worker-1\"} 20",
           "cachewarden_buildkit_parallelism_waiting{worker=\"worker-1\"} 7",
           "cachewarden_buildkit_gc_runs{worker=\"worker-1\"} 42",
           "cachewarden_buildkit_gc_recent_failures{worker=\"worker-1\"} 2",
           "cachewarden_buildkit_gc_current_start_timestamp_seconds{worker=\"worker-1\"} "
           "1700000900",
           "cachewarden_buildkit_gc_last_duration_seconds{worker=\"worker-1\"} 360",
           "cachewarden_buildkit_gc_last_success{worker=\"worker-1\"} 0",
           "cachewarden_buildkit_gc_last_cleared_bytes{worker=\"worker-1\"} 3221225472",
           "cachewarden_buildkit_sessions 3",
       }) {
    CHECK_THAT(text, Catch::Contains(line));
  }

  // Upstream BuildKit (the same fake without the fork's fields): none of them, no zeros.
  service.earthly = false;
  REQUIRE(Collect("unix://" + dir / "buildkitd.sock", std::chrono::seconds(10), &out).ok());
  const auto& up = dynamic_cast<const BuildkitData&>(*out);
  CHECK_FALSE(up.workers[0].parallelism.has_value());
  CHECK_FALSE(up.workers[0].gc_analytics.has_value());
  CHECK_FALSE(up.sessions.has_value());
  CHECK_THAT(MetricsText(up), !Catch::Contains("parallelism") && !Catch::Contains("gc_runs"));
}

TEST_CASE("buildkit exports up 0 for each address that did not answer, 1 for the one that did",
          "[buildkit][grpc]") {
  testing::TempDir dir;
  FakeControl service;
  BuildkitOptions o;
  for (const std::string& text : {"unix://" + dir / "missing.sock", "unix://" + dir / "bk.sock"}) {
    BuildkitAddress a;
    std::string error;
    REQUIRE(ParseBuildkitAddress(text, &a, &error));
    o.addresses.push_back(a);
  }
  o.call_timeout = std::chrono::seconds(10);
  auto probe = NewBuildkitProbe(o);
  std::shared_ptr<const ProbeData> out;

  // Neither answers: the run fails, and its failure data lists both, each with its reason.
  Status s = probe->Collect(ProbeContext{}, &out);
  CHECK(s.code() == StatusCode::kMissing);
  const auto* down = dynamic_cast<const BuildkitDownData*>(out.get());
  REQUIRE(down != nullptr);
  REQUIRE(down->unreachable.size() == 2);
  CHECK(down->unreachable[1].status.code() == StatusCode::kMissing);
  std::string text = MetricsText(*down);
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_up{address=\"unix://" +
                                   dir / "missing.sock\"} 0"));
  CHECK_THAT(text,
             Catch::Contains("cachewarden_buildkit_up{address=\"unix://" + dir / "bk.sock\"} 0"));
  CHECK(down->ToJson()["unreachable"][0]["reason"] == "missing");

  // The second one answers: the first stays listed as down.
  FakeServer server(dir / "bk.sock", &service);
  s = probe->Collect(ProbeContext{}, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  const auto& d = dynamic_cast<const BuildkitData&>(*out);
  REQUIRE(d.unreachable.size() == 1);
  text = MetricsText(d);
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_up{address=\"unix://" +
                                   dir / "missing.sock\"} 0"));
  CHECK_THAT(text,
             Catch::Contains("cachewarden_buildkit_up{address=\"unix://" + dir / "bk.sock\"} 1"));
}

TEST_CASE(
    "buildkit reaches a unix socket that is only in buildkitd's mount namespace through "
    "/proc/<pid>/root",
    "[buildkit][grpc]") {
  // buildkitd as a sidecar sharing its pid namespace sees it: a /proc whose buildkitd's root holds
  // the socket (a fixture directory: the test cannot make a second mount namespace's root here);
  // the server on it is a real gRPC server of the test's own.
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "bk-root/run/cw-absent");
  testing::FakeBuildkitdProc(dir);
  FakeControl service;
  FakeServer server(dir / "bk-root/run/cw-absent/buildkitd.sock", &service);
  BuildkitOptions o;
  BuildkitAddress a;
  std::string error;
  REQUIRE(ParseBuildkitAddress("unix:///run/cw-absent/buildkitd.sock", &a, &error));
  o.addresses = {a};
  o.call_timeout = std::chrono::seconds(10);
  ProbeContext ctx;
  ctx.proc_root = dir / "proc";
  std::shared_ptr<const ProbeData> out;
  Status s = NewBuildkitProbe(o)->Collect(ctx, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  const auto& d = dynamic_cast<const BuildkitData&>(*out);
  CHECK(d.address == "unix:///run/cw-absent/buildkitd.sock");
  CHECK(d.reached_through == dir / "proc/77/root");
  CHECK(d.usage.records == 2);
  CHECK(d.ToJson()["reached_through"] == dir / "proc/77/root");

  // With `process` off, or no such process, the socket's own path is all there is.
  o.process = "";
  s = NewBuildkitProbe(o)->Collect(ctx, &out);
  CHECK(s.code() == StatusCode::kMissing);
  o.process = "no-such-daemon";
  s = NewBuildkitProbe(o)->Collect(ctx, &out);
  CHECK(s.code() == StatusCode::kMissing);
  // Found, but not answering there either: both reasons.
  std::filesystem::remove(dir / "proc/77/root");
  std::filesystem::create_directories(dir / "proc/77/root");
  o.process = "buildkitd";
  s = NewBuildkitProbe(o)->Collect(ctx, &out);
  CHECK(s.code() == StatusCode::kMissing);
  CHECK_THAT(s.message(), Catch::Contains("through " + dir / "proc/77/root"));
}

TEST_CASE("buildkit asks a unix socket that hangs once, not again through /proc/<pid>/root",
          "[buildkit][grpc]") {
  // A socket at its path that does not answer costs one deadline: only a missing socket is
  // looked for in buildkitd's root (where, here, a server that would answer waits unasked).
  testing::TempDir dir;
  std::filesystem::create_directories(dir / ("bk-root" + dir.path()));
  testing::FakeBuildkitdProc(dir);
  FakeControl hanging;
  hanging.hang_disk_usage = true;
  FakeServer here(dir / "buildkitd.sock", &hanging);
  FakeControl answering;
  FakeServer inside(dir / "bk-root" + dir / "buildkitd.sock", &answering);
  BuildkitOptions o;
  BuildkitAddress a;
  std::string error;
  REQUIRE(ParseBuildkitAddress("unix://" + dir / "buildkitd.sock", &a, &error));
  o.addresses = {a};
  o.call_timeout = std::chrono::milliseconds(300);
  ProbeContext ctx;
  ctx.proc_root = dir / "proc";
  std::shared_ptr<const ProbeData> out;
  const Status s = NewBuildkitProbe(o)->Collect(ctx, &out);
  hanging.Release();
  CHECK(s.code() == StatusCode::kTimeout);
  CHECK_THAT(s.message(), !Catch::Contains("through"));
}

}  // namespace
}  // namespace cachewarden
