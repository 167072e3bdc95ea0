#include "agent/probe_worker.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>

#include "agent/oneshot.h"

namespace cachewarden {
namespace {

struct TestData : ProbeData {
  static constexpr std::string_view kProbe = "blocking";
  int run = 0;
  nlohmann::json ToJson() const override { return {{"run", run}}; }
  void ExportMetrics(MetricWriter&) const override {}
};

// A probe that blocks in Collect() until released, like statfs on a hung NFS server; it counts how
// many calls are in flight at once.
class BlockingProbe : public Probe {
 public:
  std::string_view name() const override { return TestData::kProbe; }
  Status Collect(const ProbeContext&, std::shared_ptr<const ProbeData>* out) override {
    std::unique_lock lock(mutex_);
    in_flight_++;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    calls_++;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    in_flight_--;
    auto d = std::make_shared<TestData>();
    d->run = calls_;
    *out = d;
    return Status::Ok();
  }
  void Release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  int max_in_flight() {
    std::lock_guard lock(mutex_);
    return max_in_flight_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool released_ = false;
  int in_flight_ = 0, max_in_flight_ = 0, calls_ = 0;
};

ProbeSpec Spec() {
  ProbeSpec s;
  s.name = "blocking";
  s.interval = std::chrono::milliseconds(100);
  s.timeout = std::chrono::milliseconds(50);
  return s;
}

TEST_CASE("a stuck probe never has more than one call outstanding", "[daemon]") {
  auto probe = std::make_shared<BlockingProbe>();
  ProbeWorker worker(probe, ProbeContext{}, nullptr);
  REQUIRE(worker.Start(nullptr));
  CHECK_FALSE(worker.WaitFor(std::chrono::milliseconds(50)));
  CHECK(worker.Busy());
  for (int i = 0; i < 10; ++i) CHECK_FALSE(worker.Start(nullptr));
  probe->Release();
  REQUIRE(worker.WaitFor(std::chrono::seconds(10)));
  auto outcome = worker.TakeOutcome();
  REQUIRE(outcome);
  CHECK(outcome->status.ok());
  CHECK(probe->calls() == 1);
  CHECK(probe->max_in_flight() == 1);
  CHECK_FALSE(worker.Busy());
  CHECK(worker.Start(nullptr));
  REQUIRE(worker.WaitFor(std::chrono::seconds(10)));
}

TEST_CASE("a one-shot run reports a probe past its deadline as failed with reason timeout",
          "[daemon]") {
  auto probe = std::make_shared<BlockingProbe>();
  ProbeContext context;
  context.cache_root = "/";
  auto t0 = std::chrono::steady_clock::now();
  RunOutcome outcome = RunProbeOnce(Spec(), probe, context, nullptr);
  auto took = std::chrono::steady_clock::now() - t0;
  Snapshot snapshot;
  ApplyOutcome(&snapshot, "blocking", outcome);
  const ProbeResult* r = snapshot.Find("blocking");
  REQUIRE(r != nullptr);
  CHECK_FALSE(r->status.ok());
  CHECK(r->status.code() == StatusCode::kTimeout);
  CHECK(r->data == nullptr);
  CHECK(took < std::chrono::seconds(2));
  probe->Release();  // the abandoned thread finishes and exits on its own
}

Config Load(const std::string& text) { return LoadConfigText(text, "test.json", {}); }

constexpr const char* kBase = R"({"root": "/cache",
    "probes": {"volume": {"interval": "15s", "growth_min_samples": 3},
               "logs": {"files": [{"path": "/var/log/bk.log"}]}},
    "alerts": {"rules": {"CacheDiskAlmostFull": {"warning_percent": 85}}}})";

TEST_CASE("a reload with an unrelated change keeps every probe's instance", "[daemon][reload]") {
  const Config was = Load(kBase);
  // An alert threshold and another probe's interval.
  const Config now = Load(R"({"root": "/cache",
      "probes": {"volume": {"interval": "15s", "growth_min_samples": 3},
                 "logs": {"files": [{"path": "/var/log/bk.log"}]},
                 "scan": {"interval": "10m"}},
      "alerts": {"rules": {"CacheDiskAlmostFull": {"warning_percent": 90}}}})");
  // Only a running instance can be kept: the probes that are off by default (buildkit) have none.
  for (const auto& spec : now.probes) {
    if (!spec.enabled) continue;
    INFO(spec.name);
    CHECK(KeepsInstance(was, now, spec.name));
  }
  CHECK(KeepsInstance(was, was, "volume"));
  const std::string on = R"({"root": "/cache", "probes": {"buildkit": {"enabled": true}}})";
  CHECK(KeepsInstance(Load(on), Load(on), "buildkit"));
}

TEST_CASE("a probe's new interval or timeout alone keeps its instance", "[daemon][reload]") {
  const Config was = Load(kBase);
  const Config now = Load(R"({"root": "/cache",
      "probes": {"volume": {"interval": "1s", "timeout": "500ms", "growth_min_samples": 3},
                 "logs": {"files": [{"path": "/var/log/bk.log"}]}},
      "alerts": {"rules": {"CacheDiskAlmostFull": {"warning_percent": 85}}}})");
  CHECK(now.FindProbe("volume")->interval != was.FindProbe("volume")->interval);
  CHECK(KeepsInstance(was, now, "volume"));
}

TEST_CASE("a changed probe section starts that probe fresh and keeps the others",
          "[daemon][reload]") {
  const Config was = Load(kBase);
  const Config volume = Load(R"({"root": "/cache",
      "probes": {"volume": {"interval": "15s", "growth_min_samples": 4},
                 "logs": {"files": [{"path": "/var/log/bk.log"}]}},
      "alerts": {"rules": {"CacheDiskAlmostFull": {"warning_percent": 85}}}})");
  CHECK_FALSE(KeepsInstance(was, volume, "volume"));
  CHECK(KeepsInstance(was, volume, "logs"));
  CHECK(KeepsInstance(was, volume, "latency"));

  const Config logs = Load(R"({"root": "/cache",
      "probes": {"volume": {"interval": "15s", "growth_min_samples": 3},
                 "logs": {"files": [{"path": "/var/log/bk.log", "start_at": "beginning"}]}},
      "alerts": {"rules": {"CacheDiskAlmostFull": {"warning_percent": 85}}}})");
  CHECK_FALSE(KeepsInstance(was, logs, "logs"));
  CHECK(KeepsInstance(was, logs, "volume"));
}

TEST_CASE("a probe disabled, or enabled again, by a reload has no instance to keep",
          "[daemon][reload]") {
  const Config was = Load(kBase);
  const Config off = Load(R"({"root": "/cache",
      "probes": {"volume": {"enabled": false, "interval": "15s", "growth_min_samples": 3},
                 "logs": {"files": [{"path": "/var/log/bk.log"}]}},
      "alerts": {"rules": {"CacheDiskAlmostFull": {"warning_percent": 85}}}})");
  CHECK_FALSE(KeepsInstance(was, off, "volume"));
  CHECK_FALSE(KeepsInstance(off, was, "volume"));
  CHECK(KeepsInstance(was, off, "logs"));
  CHECK_FALSE(KeepsInstance(was, was, "no-such-probe"));
}

TEST_CASE("a new cache root, proc_root or sys_root starts every probe fresh", "[daemon][reload]") {
  const Config was = Load(kBase);
  for (const char* change :
       {R"("root": "/elsewhere")", R"("root": "/cache", "proc_root": "/host/proc")",
        R"("root": "/cache", "sys_root": "/host/sys")"}) {
    INFO(change);
    const Config now = Load(fmt::format(R"({{{},
        "probes": {{"volume": {{"interval": "15s", "growth_min_samples": 3}},
                   "logs": {{"files": [{{"path": "/var/log/bk.log"}}]}}}},
        "alerts": {{"rules": {{"CacheDiskAlmostFull": {{"warning_percent": 85}}}}}}}})",
                                        change));
    for (const auto& spec : now.probes) {
      INFO(spec.name);
      CHECK(now.FindProbe(spec.name)->options == was.FindProbe(spec.name)->options);
      CHECK_FALSE(KeepsInstance(was, now, spec.name));
    }
  }
}

TEST_CASE("a failed run keeps the last good data and counts failures", "[daemon]") {
  Snapshot s;
  auto data = std::make_shared<TestData>();
  RunOutcome good;
  good.data = data;
  good.finished = SystemTime(std::chrono::seconds(100));
  ApplyOutcome(&s, "blocking", good);
  RunOutcome bad;
  bad.status = Status::Error(StatusCode::kIo, "boom");
  bad.finished = SystemTime(std::chrono::seconds(200));
  ApplyOutcome(&s, "blocking", bad);
  ApplyOutcome(&s, "blocking", bad);
  const ProbeResult* r = s.Find("blocking");
  CHECK(r->consecutive_failures == 2);
  CHECK(r->data == data);
  CHECK(r->last_success == SystemTime(std::chrono::seconds(100)));
  MetricWriter w;
  s.ExportMetrics(w);
  auto families = w.Take();
  REQUIRE_FALSE(families.empty());
  CHECK(families[0].name == "cachewarden_probe_success");
  CHECK(families[0].metric[0].gauge.value == 0);
}

// The failure data of a failed run: a probe that says what it found down (the buildkit probe's
// `cachewarden_buildkit_up 0`).
struct DownData : ProbeData {
  nlohmann::json ToJson() const override { return {{"down", "x"}}; }
  void ExportMetrics(MetricWriter& out) const override {
    out.Gauge("cachewarden_test_up", "test", 0, {{"address", "x"}});
  }
};

class FailingProbe : public Probe {
 public:
  bool fail = true;
  std::string_view name() const override { return TestData::kProbe; }
  Status Collect(const ProbeContext&, std::shared_ptr<const ProbeData>* out) override {
    if (!fail) {
      *out = std::make_shared<TestData>();
      return Status::Ok();
    }
    *out = std::make_shared<DownData>();
    return Status::Error(StatusCode::kIo, "x is down");
  }
};

bool Exports(const Snapshot& s, std::string_view name) {
  MetricWriter w;
  s.ExportMetrics(w);
  for (const auto& f : w.Take()) {
    if (f.name == name) return true;
  }
  return false;
}

TEST_CASE("a failed run's failure data is exported and shown until a run succeeds", "[daemon]") {
  auto probe = std::make_shared<FailingProbe>();
  ProbeSpec spec;
  spec.name = std::string(TestData::kProbe);
  spec.timeout = std::chrono::seconds(10);
  Snapshot s;
  RunOutcome bad = RunProbeOnce(spec, probe, ProbeContext{}, nullptr);
  CHECK_FALSE(bad.status.ok());
  CHECK(bad.data == nullptr);
  REQUIRE(bad.failure != nullptr);
  ApplyOutcome(&s, spec.name, bad);
  CHECK(Exports(s, "cachewarden_test_up"));
  CHECK(s.ToJson(SystemTime{})["probes"]["blocking"]["failure"]["down"] == "x");

  probe->fail = false;
  RunOutcome good = RunProbeOnce(spec, probe, ProbeContext{}, nullptr);
  REQUIRE(good.status.ok());
  CHECK(good.failure == nullptr);
  ApplyOutcome(&s, spec.name, good);
  CHECK(s.Find(spec.name)->failure == nullptr);
  CHECK_FALSE(Exports(s, "cachewarden_test_up"));
  CHECK_FALSE(s.ToJson(SystemTime{})["probes"]["blocking"].contains("failure"));
}

}  // namespace
}  // namespace cachewarden
