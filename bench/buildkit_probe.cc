// bench/buildkit_probe's driver: what one run of the buildkit probe costs against a BuildKit with
// RECORDS cache records. The server is a gRPC Control of this file's own (the same .proto subset
// as the probe; a real BuildKit with thousands of records cannot be built here in bench time) in a
// child process, on a unix socket; the parent runs the probe RUNS times as the agent does (a fresh
// channel each run) and prints the median and worst wall time of a run, and the parent's peak RSS
// at the start, after the first (untimed) run and after the last: the first's growth is what one
// run costs, the rest's shows whether runs keep anything.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "probes/buildkit.h"
#include "probes/buildkit/proto/control.grpc.pb.h"

namespace {

namespace pb = ::moby::buildkit::v1;

// Records shaped like a busy BuildKit's: 64-hex ids, a description, a parent each, the types in
// the proportions of a build cache (most regular, some cache mounts and local sources).
class ManyRecords final : public pb::Control::Service {
 public:
  explicit ManyRecords(int n) {
    const char* types[] = {"regular",         "regular",      "regular",
                           "exec.cachemount", "source.local", "source.git.checkout",
                           "frontend",        "internal"};
    for (int i = 0; i < n; ++i) {
      auto* r = du_.add_record();
      char id[65];
      std::snprintf(id, sizeof id, "%064x", i * 2654435761u);
      r->set_id(id);
      r->set_recordtype(types[i % 8]);
      r->set_size(4096LL * (i % 997 + 1));
      r->set_inuse(i % 50 == 0);
      r->set_shared(i % 7 == 0);
      r->set_usagecount(i % 13);
      r->mutable_createdat()->set_seconds(1'700'000'000 + i);
      r->mutable_lastusedat()->set_seconds(1'700'100'000 + i);
      r->set_description("mount / from exec /bin/sh -c make -j8 build-" + std::to_string(i));
      if (i > 0) r->add_parents(du_.record(i - 1).id());
    }
  }
  grpc::Status DiskUsage(grpc::ServerContext*, const pb::DiskUsageRequest*,
                         pb::DiskUsageResponse* resp) override {
    *resp = du_;
    return grpc::Status::OK;
  }
  grpc::Status ListWorkers(grpc::ServerContext*, const pb::ListWorkersRequest*,
                           pb::ListWorkersResponse* resp) override {
    auto* w = resp->add_record();
    w->set_id("worker-1");
    (*w->mutable_labels())["org.mobyproject.buildkit.worker.snapshotter"] = "overlayfs";
    for (int i = 0; i < 4; ++i) {
      auto* p = w->add_gcpolicy();
      p->set_keepbytes((i + 1) * (10LL << 30));
      p->set_all(i == 3);
    }
    return grpc::Status::OK;
  }

 private:
  pb::DiskUsageResponse du_;
};

long PeakRssKiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cachewarden;
  if (argc < 4) {
    std::fprintf(stderr, "usage: buildkit_probe SOCKET RECORDS RUNS\n");
    return 64;
  }
  const std::string socket = argv[1];
  const int records = std::atoi(argv[2]);
  const int runs = std::atoi(argv[3]);
  const pid_t server = fork();
  if (server == 0) {
    ManyRecords service(records);
    grpc::ServerBuilder b;
    b.SetMaxSendMessageSize(256 << 20);
    b.AddListeningPort("unix://" + socket, grpc::InsecureServerCredentials());
    b.RegisterService(&service);
    auto s = b.BuildAndStart();
    if (s == nullptr) return 1;
    s->Wait();
    return 0;
  }
  BuildkitOptions o;
  BuildkitAddress a;
  std::string error;
  if (!ParseBuildkitAddress("unix://" + socket, &a, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  o.addresses = {a};
  o.call_timeout = std::chrono::seconds(30);
  const long rss_start = PeakRssKiB();
  // Wait for the server: the first run that succeeds (not timed).
  std::shared_ptr<const ProbeData> out;
  Status s;
  for (int i = 0; i < 300; ++i) {
    s = NewBuildkitProbe(o)->Collect(ProbeContext{}, &out);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!s.ok()) {
    std::fprintf(stderr, "server did not answer: %s\n", s.ToString().c_str());
    kill(server, SIGTERM);
    return 1;
  }
  const long rss_before = PeakRssKiB();
  std::vector<double> wall;
  std::int64_t seen = 0;
  for (int i = 0; i < runs; ++i) {
    auto probe = NewBuildkitProbe(o);
    const auto start = std::chrono::steady_clock::now();
    s = probe->Collect(ProbeContext{}, &out);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!s.ok()) break;
    seen = dynamic_cast<const BuildkitData&>(*out).usage.records;
  }
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  if (!s.ok()) {
    std::fprintf(stderr, "run failed: %s\n", s.ToString().c_str());
    return 1;
  }
  std::sort(wall.begin(), wall.end());
  std::printf(
      "records %d (probe saw %lld) runs %d median_ms %.2f max_ms %.2f rss_start_kib %ld "
      "rss_after_first_kib %ld rss_after_all_kib %ld\n",
      records, static_cast<long long>(seen), runs, 1000 * wall[wall.size() / 2], 1000 * wall.back(),
      rss_start, rss_before, PeakRssKiB());
  return 0;
}
