// The prune action against a gRPC server written in the test from the same .proto subset (a
// stand-in for buildkitd): the real BuildKit here (dockerd's, gc_prune_dockerd_test.cc) frees its
// few records in milliseconds, so only a fake can stream slowly enough to be cancelled mid-call,
// and only a fake shows exactly which PruneRequest fields arrived.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "actions/gc_run.h"
#include "probes/buildkit/proto/control.grpc.pb.h"
#include "tests/support/agent.h"
#include "tests/support/grpc_server.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

namespace pb = ::moby::buildkit::v1;
using Clock = std::chrono::steady_clock;

class FakeControl final : public pb::Control::Service {
 public:
  std::atomic<bool> endless{
      false};  // Prune streams a record every 20 ms until the call is cancelled

  grpc::Status DiskUsage(grpc::ServerContext* /*ctx*/, const pb::DiskUsageRequest* /*req*/,
                         pb::DiskUsageResponse* resp) override {
    disk_usage_calls++;
    auto* r = resp->add_record();
    r->set_id("old");
    r->set_recordtype("regular");
    r->set_size(300);
    r->mutable_lastusedat()->set_seconds(1'000'000'000);
    auto* busy = resp->add_record();
    busy->set_id("busy");
    busy->set_size(5000);
    busy->set_inuse(true);
    return grpc::Status::OK;
  }

  grpc::Status ListWorkers(grpc::ServerContext* /*ctx*/, const pb::ListWorkersRequest* /*req*/,
                           pb::ListWorkersResponse* /*resp*/) override {
    return grpc::Status::OK;
  }

  grpc::Status Prune(grpc::ServerContext* ctx, const pb::PruneRequest* req,
                     grpc::ServerWriter<pb::UsageRecord>* writer) override {
    {
      std::lock_guard lock(mu_);
      request = *req;
      prune_calls++;
    }
    for (int i = 0;; ++i) {
      if (ctx->IsCancelled()) {
        saw_cancel = true;
        return grpc::Status::CANCELLED;
      }
      if (!endless && i == 2) return grpc::Status::OK;
      pb::UsageRecord r;
      r.set_id("freed-" + std::to_string(i));
      r.set_recordtype("exec.cachemount");
      r.set_size(i == 0 ? 300 : 700);
      writer->Write(r);
      sent++;
      if (endless) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  pb::PruneRequest Request() {
    std::lock_guard lock(mu_);
    return request;
  }

  std::atomic<int> disk_usage_calls{0};
  std::atomic<int> prune_calls{0};
  std::atomic<int> sent{0};
  std::atomic<bool> saw_cancel{false};

 private:
  std::mutex mu_;
  pb::PruneRequest request;
};

using FakeServer = testing::UnixGrpcServer;

BuildkitAddress Address(const std::string& text) {
  BuildkitAddress a;
  std::string error;
  REQUIRE(ParseBuildkitAddress(text, &a, &error));
  return a;
}

GcPolicy PrunePolicy() {
  GcPolicy p;
  p.name = "bk";
  p.path = "";
  p.action = GcAction::kPrune;
  p.triggers.always = true;
  return p;
}

struct Fixture {
  testing::TempDir dir;
  FakeControl service;
  std::unique_ptr<FakeServer> server;
  GcRunOptions options;

  Fixture() {
    server = std::make_unique<FakeServer>(dir / "buildkitd.sock", &service);
    options.root = dir.path();
    options.buildkit.addresses = {Address("unix://" + dir / "buildkitd.sock")};
    options.buildkit.call_timeout = std::chrono::seconds(10);
  }
};

TEST_CASE("prune sends the policy's settings and counts the records the stream reports freed",
          "[gc][prune]") {
  Fixture f;
  GcPolicy p = PrunePolicy();
  p.prune.keep_bytes = 1 << 20;
  p.prune.max_used_space = 8 << 20;
  p.prune.min_free_space = 2 << 20;
  p.prune.keep_duration = std::chrono::hours(2);
  p.prune.filters = {"type==exec.cachemount", "id==x"};
  p.prune.all = true;
  // An address that is not there comes first: the next one in the list is used.
  f.options.buildkit.addresses.insert(f.options.buildkit.addresses.begin(),
                                      Address("unix://" + f.dir / "missing.sock"));
  GcRunResult r = RunGcPolicy(p, nullptr, f.options);
  INFO(r.status.ToString());
  CHECK(r.result == GcResult::kFreed);
  CHECK(r.freed_bytes == 1000);
  CHECK(r.deleted_entries == 2);
  REQUIRE(r.done.size() == 2);
  CHECK(r.done[0].name == "freed-0");
  CHECK(r.done[0].freed == 300);
  CHECK(r.done[1].reap.result == ReapResult::kDeleted);
  CHECK(r.plan.buildkit_address == "unix://" + f.dir / "buildkitd.sock");
  const pb::PruneRequest req = f.service.Request();
  CHECK(req.keepbytes() == 1 << 20);
  CHECK(req.maxusedspace() == 8 << 20);
  CHECK(req.minfreespace() == 2 << 20);
  CHECK(req.keepduration() == 7'200'000'000'000LL);
  CHECK(req.all());
  REQUIRE(req.filter_size() == 2);
  CHECK(req.filter(0) == "type==exec.cachemount");
  CHECK(req.filter(1) == "id==x");
  CHECK(r.ToJson().at("freed_bytes") == 1000);
}

TEST_CASE("prune sends until_below as the keep_bytes BuildKit is to stop at", "[gc][prune]") {
  Fixture f;
  GcPolicy p = PrunePolicy();
  p.triggers.always = false;
  p.triggers.used_above = SizeSpec::Percent(80);
  p.triggers.until_below = SizeSpec::Percent(79.9);
  VolumeData v;  // 80100 of 100000 used: 200 to free
  v.size_bytes = 100000;
  v.free_bytes = v.avail_bytes = 19900;
  GcRunResult r = RunGcPolicy(p, &v, f.options);
  INFO(r.status.ToString());
  REQUIRE(r.plan.need_bytes == 200);
  CHECK(r.result == GcResult::kFreed);
  // The fake's records hold 5300; BuildKit (no Info: keepBytes is a cap) is to keep 5100.
  const pb::PruneRequest req = f.service.Request();
  CHECK(req.keepbytes() == 5100);
  CHECK(req.maxusedspace() == 0);
}

TEST_CASE("prune dry run lists what DiskUsage shows it would free and calls no Prune",
          "[gc][prune]") {
  Fixture f;
  f.options.dry_run = true;
  GcRunResult r = RunGcPolicy(PrunePolicy(), nullptr, f.options);
  CHECK(r.result == GcResult::kDryRun);
  CHECK(f.service.prune_calls == 0);
  CHECK(r.plan.planned_entries == 1);
  CHECK(r.plan.planned_bytes == 300);
  REQUIRE(r.plan.items.size() == 2);
  CHECK(r.plan.items[0].entry.name == "old");
  CHECK(r.plan.items[0].decision == GcDecision::kDelete);
  CHECK(r.plan.items[1].entry.name == "busy");
  CHECK(r.plan.items[1].decision == GcDecision::kKeep);
  CHECK(r.plan.items[1].why.find("in use") != std::string::npos);
}

TEST_CASE("prune asks BuildKit nothing while no trigger holds", "[gc][prune]") {
  Fixture f;
  GcPolicy p = PrunePolicy();
  p.triggers.always = false;
  p.triggers.free_below = SizeSpec::Bytes(1);
  VolumeData v;
  v.size_bytes = 1 << 30;
  v.free_bytes = v.avail_bytes = 1 << 29;
  GcRunResult r = RunGcPolicy(p, &v, f.options);
  CHECK(r.result == GcResult::kNotTriggered);
  CHECK(f.service.disk_usage_calls == 0);
  CHECK(f.service.prune_calls == 0);
}

TEST_CASE("a prune run cancelled mid-stream stops the call and reports what went", "[gc][prune]") {
  Fixture f;
  f.service.endless = true;
  std::atomic<bool> cancel{false};
  f.options.cancel = &cancel;
  std::thread stopper([&] {
    // Once BuildKit is visibly freeing (a condition, polled), as a SIGHUP would come.
    while (f.service.sent < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  const auto start = Clock::now();
  GcRunResult r = RunGcPolicy(PrunePolicy(), nullptr, f.options);
  const auto took_after_start = Clock::now() - start;
  stopper.join();
  CHECK(r.result == GcResult::kCancelled);
  CHECK(r.deleted_entries >= 3);
  CHECK(r.freed_bytes == 300 + 700 * (r.deleted_entries - 1));
  // The endless stream would never end by itself: the run ended because it was cancelled.
  CHECK(took_after_start < std::chrono::seconds(10));
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!f.service.saw_cancel && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(f.service.saw_cancel);
}

TEST_CASE("a prune run past its deadline fails with the time-out", "[gc][prune]") {
  Fixture f;
  f.service.endless = true;
  GcPolicy p = PrunePolicy();
  p.prune.timeout = std::chrono::milliseconds(300);
  const auto start = Clock::now();
  GcRunResult r = RunGcPolicy(p, nullptr, f.options);
  CHECK(Clock::now() - start < std::chrono::seconds(5));
  CHECK(r.result == GcResult::kPartial);  // records went before the deadline
  CHECK(r.status.code() == StatusCode::kTimeout);
  CHECK(r.status.message().find("Prune") != std::string::npos);
  CHECK(r.deleted_entries > 0);
}

TEST_CASE("prune with no BuildKit answering does nothing, or fails, as when_unreachable says",
          "[gc][prune]") {
  testing::TempDir dir;
  GcRunOptions o;
  o.root = dir.path();
  o.buildkit.addresses = {Address("unix://" + dir / "a.sock"),
                          Address("docker-unix://" + dir / "docker.sock")};
  o.buildkit.call_timeout = std::chrono::seconds(2);
  GcPolicy p = PrunePolicy();
  GcRunResult r = RunGcPolicy(p, nullptr, o);
  CHECK(r.result == GcResult::kNotTriggered);
  CHECK(r.status.ok());
  CHECK_FALSE(r.plan.triggered);
  CHECK(r.plan.triggers == std::vector<std::string>{"always"});
  CHECK(r.plan.held_back.find(dir / "a.sock") != std::string::npos);
  CHECK(r.plan.held_back.find(dir / "docker.sock") != std::string::npos);
  CHECK(r.ToJson().at("plan").at("held_back") == r.plan.held_back);

  p.prune.skip_unreachable = false;
  r = RunGcPolicy(p, nullptr, o);
  CHECK(r.result == GcResult::kFailed);
  CHECK(r.status.message().find("BuildKit answers at no address") != std::string::npos);
}

TEST_CASE("the agent's prune runs count in the gc series, and SIGHUP and SIGTERM cancel the call",
          "[gc][prune][e2e]") {
  testing::TempDir tmp;
  const std::string root = tmp / "cache";
  std::filesystem::create_directories(root);
  FakeControl service;
  FakeServer server(tmp / "buildkitd.sock", &service);
  auto config = [&](bool dry_run) {
    nlohmann::json policy = {{"name", "bk"},
                             {"action", "prune"},
                             {"interval", "1s"},
                             {"dry_run", dry_run},
                             {"triggers", {{"always", true}}}};
    return nlohmann::json{
        {"root", root},
        {"probes", {{"buildkit", {{"address", {"unix://" + tmp / "buildkitd.sock"}}}}}},
        {"gc", {{"policies", {policy}}}}}
        .dump();
  };
  testing::AgentUnderTest agent(tmp.path(), config(false));
  std::string why;
  REQUIRE(agent.Start(&why));
  // A prune that ends: what its stream reported is the policy's freed bytes and entries.
  REQUIRE(testing::WaitUntil([&] {
    return agent.Metric(R"(cachewarden_gc_runs_total{policy="bk",result="freed"})") >= 1;
  }));
  CHECK(agent.Metric(R"(cachewarden_gc_freed_bytes_total{policy="bk"})") >= 1000);
  CHECK(agent.Metric(R"(cachewarden_gc_deleted_entries_total{policy="bk"})") >= 2);

  // Endless from now on: SIGHUP cancels the call in progress (the server sees it cancelled).
  service.endless = true;
  const int before = service.prune_calls;
  REQUIRE(testing::WaitUntil([&] { return service.prune_calls > before && service.sent > 10; }));
  testing::WriteFile(agent.config_path(), config(true));
  agent.process().Signal(SIGHUP);
  REQUIRE(testing::WaitUntil([&] {
    return agent.Metric(R"(cachewarden_gc_runs_total{policy="bk",result="cancelled"})") == 1;
  }));
  REQUIRE(testing::WaitUntil([&] { return service.saw_cancel.load(); }));

  // Pruning again, then SIGTERM part way: the agent exits at once, 0, and the call is cancelled.
  service.saw_cancel = false;
  const int calls = service.prune_calls;
  testing::WriteFile(agent.config_path(), config(false));
  agent.process().Signal(SIGHUP);
  REQUIRE(testing::WaitUntil([&] { return service.prune_calls > calls; }));
  agent.process().Signal(SIGTERM);
  int code = -1;
  CHECK(agent.process().WaitExit(std::chrono::seconds(3), &code));
  CHECK(code == 0);
  CHECK(testing::WaitUntil([&] { return service.saw_cancel.load(); }));
}

}  // namespace
}  // namespace cachewarden
