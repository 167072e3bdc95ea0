// The buildkit probe against a real BuildKit: the one inside the test's own dockerd (Debian's
// docker.io, tests/support/dockerd.h), reached through docker-unix:// on its API socket, compared
// with what the same dockerd's `GET /system/df` lists as BuildCache.
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "policies/alerts/assessment.h"
#include "probes/buildkit.h"
#include "probes/volume.h"
#include "tests/support/dockerd.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

namespace cachewarden {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::int64_t kKeepStorage = 134217728;  // 128 MiB, in bytes: dockerd parses no unit

// A build that leaves records of three types: a COPY (regular, and the context: source.local), a
// RUN writing 300 KiB (regular), a RUN --mount=type=cache writing 200 KiB (exec.cachemount).
constexpr const char* kDockerfile = R"(FROM cw-busybox:1
COPY hello.txt /hello.txt
RUN dd if=/dev/zero of=/blob bs=1024 count=300
RUN --mount=type=cache,target=/cache dd if=/dev/zero of=/cache/c bs=1024 count=200
)";

std::string MetricsText(const Snapshot& snap) {
  MetricWriter w;
  snap.ExportMetrics(w);
  return prometheus::TextSerializer().Serialize(w.Take());
}

Status Probe(const std::string& socket, Duration call_timeout,
             std::shared_ptr<const ProbeData>* out) {
  BuildkitOptions o;
  BuildkitAddress a;
  std::string error;
  REQUIRE(ParseBuildkitAddress("docker-unix://" + socket, &a, &error));
  o.addresses = {a};
  o.call_timeout = call_timeout;
  auto probe = NewBuildkitProbe(o);
  ProbeContext ctx;
  return probe->Collect(ctx, out);
}

TEST_CASE("buildkit probe through docker-unix reports what dockerd's /system/df lists",
          "[buildkit][dockerd]") {
  if (const std::string why = testing::TestDockerd::Unavailable(); !why.empty()) CW_SKIP(why);
  testing::TestDockerd dockerd(R"({"builder": {"gc": {"enabled": true, "defaultKeepStorage": ")" +
                               std::to_string(kKeepStorage) + R"("}}})");
  std::string error;
  REQUIRE(dockerd.Start(&error));
  REQUIRE(dockerd.ImportBusybox("cw-busybox:1", &error));
  std::filesystem::create_directories(dockerd.dir() + "/ctx");
  testing::WriteFile(dockerd.dir() + "/ctx/Dockerfile", kDockerfile);
  testing::WriteFile(dockerd.dir() + "/ctx/hello.txt", "hello\n");
  const testing::ProcessResult build =
      dockerd.Docker({"build", "--progress=plain", "-t", "cw-built:1", dockerd.dir() + "/ctx"});
  INFO("docker build:\n" << build.err << "\ndockerd's log:\n" << dockerd.Log());
  REQUIRE(build.exit_code == 0);

  // Right after a build BuildKit may still release its leases (records leave "in use") or run its
  // GC: the probe's view and /system/df's are compared once two readings in a row agree.
  std::shared_ptr<const ProbeData> out;
  const BuildkitData* data = nullptr;
  nlohmann::json df;
  std::int64_t count = 0, size = 0, in_use = 0, shared = 0;
  std::map<std::string, std::int64_t> type_count, type_size;
  Status s;
  auto read_both = [&] {
    s = Probe(dockerd.socket_path(), std::chrono::seconds(30), &out);
    data = dynamic_cast<const BuildkitData*>(out.get());
    const std::string df_text = dockerd.Get("/system/df", &error);
    if (!s.ok() || data == nullptr || df_text.empty()) return false;
    df = nlohmann::json::parse(df_text);
    count = size = in_use = shared = 0;
    type_count.clear();
    type_size.clear();
    for (const auto& r : df.at("BuildCache")) {
      ++count;
      const std::int64_t sz = r.at("Size").get<std::int64_t>();
      size += sz;
      if (r.at("InUse").get<bool>()) in_use += sz;
      if (r.at("Shared").get<bool>()) shared += sz;
      ++type_count[r.at("Type").get<std::string>()];
      type_size[r.at("Type").get<std::string>()] += sz;
    }
    return data->usage.records == count && data->usage.total_bytes == size &&
           data->usage.in_use_bytes == in_use && data->usage.shared_bytes == shared;
  };
  testing::WaitUntil(read_both, std::chrono::seconds(60));
  INFO(s.ToString() << " " << error);
  REQUIRE(s.ok());
  REQUIRE(data != nullptr);
  INFO("/system/df: " << df.at("BuildCache").dump());
  CHECK(data->usage.records > 0);
  CHECK(data->usage.records == count);
  CHECK(data->usage.total_bytes == size);
  CHECK(data->usage.in_use_bytes == in_use);
  CHECK(data->usage.shared_bytes == shared);
  CHECK(data->usage.reclaimable_bytes == size - in_use);
  REQUIRE(data->usage.by_type.size() == type_count.size());
  for (const auto& [type, n] : type_count) {
    INFO(type);
    REQUIRE(data->usage.by_type.contains(type));
    CHECK(data->usage.by_type.at(type).records == n);
    CHECK(data->usage.by_type.at(type).bytes == type_size.at(type));
  }
  // What the Dockerfile wrote, as BuildKit measured it.
  CHECK(data->usage.by_type.at("exec.cachemount").bytes >= 200 * 1024);
  CHECK(data->usage.by_type.at("regular").bytes >= 300 * 1024);

  // ListWorkers: dockerd's one worker, with the GC policies its daemon.json asked for.
  REQUIRE(data->workers.size() == 1);
  const auto& policies = data->workers[0].gc_policies;
  REQUIRE_FALSE(policies.empty());
  int capped = 0;
  for (const auto& p : policies) capped += p.keep_bytes == kKeepStorage ? 1 : 0;
  CHECK(capped > 0);
  CHECK(policies.back().all);
  CHECK_FALSE(data->workers[0].platforms.empty());
  CHECK_FALSE(data->info_served);  // dockerd 20.10's BuildKit has no Info

  Snapshot snap;
  snap.Put<BuildkitData>(std::dynamic_pointer_cast<const BuildkitData>(out), SystemTime{});
  CHECK_THAT(MetricsText(snap), Catch::Contains("cachewarden_buildkit_up{address=\"docker-unix://" +
                                                dockerd.socket_path() + "\"} 1"));

  // Stopped: the probe fails with a reason, within its deadline, and says the address is down.
  dockerd.Stop();
  const auto start = Clock::now();
  std::shared_ptr<const ProbeData> failure;
  const Status down = Probe(dockerd.socket_path(), std::chrono::seconds(2), &failure);
  CHECK_FALSE(down.ok());
  CHECK(Clock::now() - start < std::chrono::seconds(5));
  CHECK(down.message().find(dockerd.socket_path()) != std::string::npos);
  const auto* gone = dynamic_cast<const BuildkitDownData*>(failure.get());
  REQUIRE(gone != nullptr);
  REQUIRE(gone->unreachable.size() == 1);
  CHECK(gone->unreachable[0].status.reason() == down.reason());
  ProbeResult failed;
  failed.probe = "buildkit";
  failed.status = down;
  failed.data = out;  // the last good run's, kept but no longer exported
  failed.failure = failure;
  snap.Set(failed);
  const std::string text = MetricsText(snap);
  CHECK_THAT(text, Catch::Contains("cachewarden_buildkit_up{address=\"docker-unix://" +
                                   dockerd.socket_path() + "\"} 0"));
  CHECK_THAT(text, !Catch::Contains("cachewarden_buildkit_bytes"));
  CHECK(snap.ToJson(SystemTime{})["probes"]["buildkit"]["failure"]["unreachable"][0]["reason"] ==
        std::string(down.reason()));

  // Started again on the same data root: the next run answers, with the records kept on disk.
  REQUIRE(dockerd.Start(&error));
  std::shared_ptr<const ProbeData> again;
  const Status up = Probe(dockerd.socket_path(), std::chrono::seconds(30), &again);
  INFO(up.ToString());
  REQUIRE(up.ok());
  CHECK(dynamic_cast<const BuildkitData&>(*again).usage.records > 0);
}

// BuildkitGCCapAboveVolume on what the real BuildKit and the real volume say: dockerd's
// builder.gc.defaultKeepStorage is the cap ListWorkers returns, judged against the volume the
// test's directory is on.
TEST_CASE("BuildkitGCCapAboveVolume judges a real dockerd's GC cap against the real volume",
          "[buildkit][dockerd][policies]") {
  if (const std::string why = testing::TestDockerd::Unavailable(); !why.empty()) CW_SKIP(why);
  auto finding = [](const std::string& keep_storage) {
    testing::TestDockerd dockerd(R"({"builder": {"gc": {"enabled": true, "defaultKeepStorage": ")" +
                                 keep_storage + R"("}}})");
    std::string error;
    REQUIRE(dockerd.Start(&error));
    Snapshot snap;
    const SystemTime now = RealClock::Get().Now();
    std::shared_ptr<const ProbeData> bk;
    const Status s = Probe(dockerd.socket_path(), std::chrono::seconds(30), &bk);
    INFO(s.ToString());
    REQUIRE(s.ok());
    snap.Put<BuildkitData>(std::dynamic_pointer_cast<const BuildkitData>(bk), now);
    ProbeContext ctx;
    ctx.cache_root = dockerd.dir();
    std::shared_ptr<const ProbeData> vol;
    REQUIRE(NewVolumeProbe(VolumeOptions{})->Collect(ctx, &vol).ok());
    snap.Put<VolumeData>(std::dynamic_pointer_cast<const VolumeData>(vol), now);
    dockerd.Stop();
    for (const auto& f : Assess(snap, DefaultAlertsConfig(), now)) {
      if (f.rule == "BuildkitGCCapAboveVolume") return f;
    }
    FAIL("no BuildkitGCCapAboveVolume finding");
    return Finding{};
  };
  // 128 MiB fits any disk a test runs on; 1 PiB fits none.
  CHECK(finding(std::to_string(kKeepStorage)).severity == Severity::kOk);
  const Finding f = finding("1125899906842624");
  CHECK(f.severity == Severity::kWarning);
  CHECK_THAT(f.summary, Catch::StartsWith("BuildKit keeps up to 1.0 PiB on a"));
}

}  // namespace
}  // namespace cachewarden
