// The extractors of the rules that read more than one probe's latest data:
// the latency window, GC's trigger history, I/O errors from the probe.
#include <catch2/catch.hpp>
#include <cerrno>

#include "policies/alerts/alert_engine.h"
#include "policies/alerts/alert_rules.h"
#include "policies/gc/gc_episodes.h"
#include "probes/dind.h"
#include "probes/latency.h"
#include "probes/logs.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

RuleConfig Defaults(std::string_view rule) { return DefaultAlertsConfig().Rule(rule); }

// Latency data whose fsync samples are `fast` seconds every 15 s for the 10 minutes up to `now`,
// plus the given slow ones at their times.
std::shared_ptr<LatencyData> Fsyncs(SystemTime now, double fast,
                                    std::vector<std::pair<SystemTime, double>> slow = {}) {
  auto d = std::make_shared<LatencyData>();
  auto& w = d->window[kOpFsync];
  for (SystemTime t = now - minutes(10); t <= now; t += seconds(15)) w.push_back({t, fast});
  for (auto [t, v] : slow) w.push_back({t, v});
  std::sort(w.begin(), w.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  return d;
}

double P99Of(const LatencyInput& in, const std::string& op) {
  for (const auto& [name, v] : in.p99_seconds) {
    if (name == op) return v;
  }
  FAIL("no p99 for " << op);
  return 0;
}

TEST_CASE("latency p99 is taken over the rule's window of probe samples, per op", "[alerts]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  Snapshot s;
  // A 2 s fsync 6 minutes ago is outside the 5 minute window.
  s.Put<LatencyData>(Fsyncs(now, 0.01, {{now - minutes(6), 2.0}}), now);
  auto in = ExtractLatency(s, now, Defaults("CacheIOLatencyHigh"));
  REQUIRE(in);
  CHECK(in->p99_seconds.size() == 1);  // ops without samples are left out
  CHECK(P99Of(*in, "fsync") == Approx(0.01));

  s.Put<LatencyData>(Fsyncs(now, 0.01, {{now - minutes(1), 2.0}}), now);
  in = ExtractLatency(s, now, Defaults("CacheIOLatencyHigh"));
  REQUIRE(in);
  CHECK(P99Of(*in, "fsync") == Approx(2.0));

  RuleConfig wide = Defaults("CacheIOLatencyHigh");
  wide.params["window"] = 600;
  s.Put<LatencyData>(Fsyncs(now, 0.01, {{now - minutes(6), 2.0}}), now);
  in = ExtractLatency(s, now, wide);
  REQUIRE(in);
  CHECK(P99Of(*in, "fsync") == Approx(2.0));
}

TEST_CASE("the p99 ignores one slow request among more than a hundred", "[alerts]") {
  FakeClock clock;
  const SystemTime now = clock.Now();
  auto d = std::make_shared<LatencyData>();
  for (int i = 0; i < 200; ++i) {
    d->window[kOpRead].push_back({now - seconds(200 - i), i == 100 ? 3.0 : 0.001});
  }
  CHECK(WindowQuantile(*d, kOpRead, now - minutes(5), 0.99) == Approx(0.001));
  CHECK(WindowQuantile(*d, kOpRead, now - minutes(5), 1.0) == Approx(3.0));
  CHECK_FALSE(WindowQuantile(*d, kOpWrite, now - minutes(5), 0.99));
}

TEST_CASE("slow fsyncs raise CacheIOLatencyHigh after 5 minutes, for that op only", "[alerts]") {
  FakeClock clock;
  AlertEngine engine(DefaultAlertsConfig());
  auto snapshot_at = [&](double fsync_seconds) {
    Snapshot s;
    auto d = Fsyncs(clock.Now(), fsync_seconds);
    d->window[kOpRead].push_back({clock.Now(), 0.001});
    s.Put<LatencyData>(d, clock.Now());
    return s;
  };
  engine.Evaluate(snapshot_at(1.5), clock.Now());
  const std::string critical = "CacheIOLatencyHigh|critical|op=fsync";
  REQUIRE(engine.alerts().contains(critical));
  CHECK(engine.alerts().at(critical).state == AlertState::kPending);
  CHECK_FALSE(engine.alerts().contains("CacheIOLatencyHigh|warning|op=read"));
  clock.Advance(minutes(5));
  engine.Evaluate(snapshot_at(1.5), clock.Now());
  CHECK(engine.alerts().at(critical).state == AlertState::kFiring);
  CHECK(engine.alerts().at("CacheIOLatencyHigh|warning|op=fsync").state == AlertState::kFiring);
}

GcRunSummary Run(std::string_view result, SystemTime started, std::uint64_t freed = 0) {
  GcRunSummary r;
  r.policy = "dind";
  r.result = *ValueIn<GcResult>(kGcResultNames, result);
  r.started = started;
  r.finished = started + seconds(2);
  r.freed_bytes = freed;
  return r;
}

TEST_CASE("GC episodes: how long a trigger held without freeing, reset by freeing",
          "[alerts][gc]") {
  FakeClock clock;
  const SystemTime t0 = clock.Now();
  GcEpisodes e;
  e.Record(Run("freed_nothing", t0));
  e.Record(Run("failed", t0 + minutes(1)));
  REQUIRE(e.episodes().contains("dind"));
  CHECK(e.episodes().at("dind").since == t0);
  CHECK(e.episodes().at("dind").runs == 2);
  CHECK(e.episodes().at("dind").failed_runs == 1);
  e.Record(Run("cancelled", t0 + minutes(2)));  // no verdict
  CHECK(e.episodes().at("dind").runs == 2);

  e.Record(Run("freed", t0 + minutes(3), 4096));
  CHECK(e.episodes().at("dind").since == t0 + minutes(3) + seconds(2));
  CHECK(e.episodes().at("dind").runs == 0);

  e.Record(Run("not_triggered", t0 + minutes(4)));
  CHECK(e.episodes().empty());
  e.Record(Run("freed_nothing", t0 + minutes(5)));
  e.Record(Run("dry_run", t0 + minutes(6)));
  CHECK(e.episodes().empty());

  e.Record(Run("freed_nothing", t0));
  e.Keep({"other"});
  CHECK(e.episodes().empty());
}

TEST_CASE("CacheGCIneffective fires for the policy whose trigger held 15 minutes", "[alerts][gc]") {
  FakeClock clock;
  auto episodes = std::make_shared<GcEpisodes>();
  episodes->Record(Run("freed_nothing", clock.Now()));
  Snapshot s;
  s.SetFact(GcEpisodes::kFact, episodes);
  clock.Advance(minutes(16));
  auto in = ExtractGc(s, clock.Now());
  REQUIRE(in);
  REQUIRE(in->policies.size() == 1);
  CHECK(in->policies[0].trigger_held_seconds == Approx(16 * 60));
  RuleOutcome out;
  DecideGcIneffective(*in, Defaults("CacheGCIneffective"), &out);
  REQUIRE(out.candidates.size() == 1);
  CHECK(out.candidates[0].fires);
  CHECK(out.candidates[0].labels == MetricLabels{{"policy", "dind"}});
  CHECK(out.candidates[0].description.find("gc --dry-run --policy dind") != std::string::npos);

  // Without the fact (a one-shot `check`) the rule's input is unknown.
  CHECK_FALSE(ExtractGc(Snapshot{}, clock.Now()));
}

TEST_CASE("CacheIOErrors follows the latency probe's latest run", "[alerts]") {
  FakeClock clock;
  Snapshot s;
  auto d = std::make_shared<LatencyData>();
  d->eio = true;
  s.Put<LatencyData>(d, clock.Now());
  auto in = ExtractIoErrors(s, clock.Now());
  REQUIRE(in);
  CHECK(in->probe_eio);

  // A run that failed outright with EIO keeps the older data; its error counts.
  auto clean = std::make_shared<LatencyData>();
  s.Put<LatencyData>(clean, clock.Now());
  ProbeResult failed = *s.Find(LatencyData::kProbe);
  failed.status =
      Status::Error(StatusCode::kIo, "mkdir: Input/output error", EIO, "/c/.cachewarden");
  s.Set(failed);
  CHECK(ExtractIoErrors(s, clock.Now())->probe_eio);

  failed.status = Status::Ok();
  s.Set(failed);
  CHECK_FALSE(ExtractIoErrors(s, clock.Now())->probe_eio);
  CHECK_FALSE(ExtractIoErrors(Snapshot{}, clock.Now()));
}

TEST_CASE("DindStaleMounts counts only mounts that outlived their build", "[alerts]") {
  FakeClock clock;
  auto d = std::make_shared<DindData>();
  d->dirs = {"/c/dind"};
  DindMountSeen running;  // a long build's own overlay: old, not stale
  running.mount.mount_point = "/c/dind/busy/merged";
  running.mount.entry_id = "busy";
  running.seen_for = std::chrono::hours(2);
  DindMountSeen leftover;
  leftover.mount.mount_point = "/c/dind/gone/merged";
  leftover.mount.entry_id = "gone";
  leftover.seen_for = minutes(11);
  leftover.stale = true;
  d->mounts = {running, leftover};
  Snapshot s;
  s.Put<DindData>(d, clock.Now());
  auto in = ExtractStaleMounts(s, clock.Now());
  REQUIRE(in);
  CHECK(in->mounts == 2);
  REQUIRE(in->stale.size() == 1);
  CHECK(in->stale[0].mount.mount_point == "/c/dind/gone/merged");
  CHECK_FALSE(in->stale[0].rm_failed);
  RuleOutcome out;
  DecideStaleMounts(*in, Defaults("DindStaleMounts"), &out);
  CHECK(out.candidates.at(0).fires);
  CHECK(out.candidates.at(0).description.find("/c/dind/gone/merged") != std::string::npos);
}

TEST_CASE("a fresh dind mount is stale when buildkitd's log shows rm failing on its entry",
          "[alerts][dind]") {
  FakeClock clock;
  auto d = std::make_shared<DindData>();
  d->dirs = {"/c/dind"};
  DindMountSeen m;
  m.mount.entry_id = "abc";
  m.mount.mount_point = "/c/dind/abc/m";
  m.mount.own_namespace = true;
  m.mount.pid = 42;
  d->mounts.push_back(m);
  Snapshot s;
  s.Put<DindData>(d, clock.Now());
  CHECK(ExtractStaleMounts(s, clock.Now())->stale.empty());

  auto l = std::make_shared<LogsData>();
  LogEvent e;
  e.kind = LogEventKind::kDindBusy;
  e.entry_id = "abc";
  e.path = "/var/earthly/dind/abc";
  l->recent.push_back(e);
  s.Put<LogsData>(l, clock.Now());
  auto in = ExtractStaleMounts(s, clock.Now());
  REQUIRE(in->stale.size() == 1);
  CHECK(in->stale[0].rm_failed);
  RuleOutcome out;
  DecideStaleMounts(*in, Defaults("DindStaleMounts"), &out);
  CHECK(out.candidates.at(0).fires);
  CHECK_THAT(out.candidates.at(0).summary, Catch::Contains("pid 42") && Catch::Contains("abc"));
}

TEST_CASE("DindStaleMounts fires in the daemon once its mounts have been stale for 10 minutes",
          "[alerts][dind]") {
  FakeClock clock;
  auto d = std::make_shared<DindData>();
  d->dirs = {"/c/dind"};
  DindMountSeen m;
  m.mount.mount_point = "/c/dind/gone/merged";
  m.stale = true;
  d->mounts.push_back(m);
  Snapshot s;
  s.Put<DindData>(d, clock.Now());
  AlertEngine engine(DefaultAlertsConfig());
  engine.Evaluate(s, clock.Now());
  const std::string key = "DindStaleMounts|warning";
  REQUIRE(engine.alerts().contains(key));
  CHECK(engine.alerts().at(key).state == AlertState::kPending);
  clock.Advance(minutes(9));
  engine.Evaluate(s, clock.Now());
  CHECK(engine.alerts().at(key).state == AlertState::kPending);
  clock.Advance(minutes(1));
  engine.Evaluate(s, clock.Now());
  CHECK(engine.alerts().at(key).state == AlertState::kFiring);
}

}  // namespace
}  // namespace cachewarden
