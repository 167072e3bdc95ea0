#include "probes/buildkit.h"

#include <fmt/format.h>
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "probes/registry.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using std::chrono::seconds;

BuildkitRecord Record(std::string type, std::int64_t size, bool in_use, bool shared,
                      std::optional<SystemTime> last_used = std::nullopt) {
  BuildkitRecord r;
  r.type = std::move(type);
  r.size = size;
  r.in_use = in_use;
  r.shared = shared;
  r.last_used = last_used;
  return r;
}

std::string MetricsText(const ProbeData& data) {
  MetricWriter w;
  data.ExportMetrics(w);
  return prometheus::TextSerializer().Serialize(w.Take());
}

BuildkitOptions ReadOptions(const std::string& text) {
  const nlohmann::json doc = nlohmann::json::parse(text);
  nlohmann::json effective;
  ConfigReader r(&doc, "/probes/buildkit", &effective);
  BuildkitOptions o = ReadBuildkitOptions(r);
  r.Finish();
  return o;
}

TEST_CASE("buildkit sums records by state and by record type", "[buildkit]") {
  const SystemTime t0 = SystemTime(seconds(1'700'000'000));
  const std::vector<BuildkitRecord> records = {
      Record("regular", 1000, /*in_use=*/true, /*shared=*/true, t0 + seconds(50)),
      Record("regular", 300, false, true, t0 + seconds(10)),
      Record("exec.cachemount", 200, false, false, t0),
      Record("", 7, false, false),  // never used: no last-use time
  };
  const BuildkitUsage u = SummarizeUsage(records);
  CHECK(u.records == 4);
  CHECK(u.in_use_records == 1);
  CHECK(u.total_bytes == 1507);
  CHECK(u.in_use_bytes == 1000);
  CHECK(u.shared_bytes == 1300);
  CHECK(u.reclaimable_bytes == 507);  // not in use, shared or not (as `buildctl du`)
  REQUIRE(u.by_type.size() == 3);
  CHECK(u.by_type.at("regular").records == 2);
  CHECK(u.by_type.at("regular").bytes == 1300);
  CHECK(u.by_type.at("exec.cachemount").bytes == 200);
  CHECK(u.by_type.at("unknown").records == 1);
  REQUIRE(u.oldest_last_used.has_value());
  CHECK(*u.oldest_last_used == t0);
}

TEST_CASE("buildkit exports records, bytes and each GC policy with fixed labels", "[buildkit]") {
  BuildkitData d;
  d.address = "unix:///run/buildkit/buildkitd.sock";
  d.version = {"github.com/moby/buildkit", "v0.17.0", "abc"};
  d.usage =
      SummarizeUsage({Record("regular", 1000, true, false), Record("regular", 24, false, true)});
  BuildkitWorker w;
  w.id = "w1";
  BuildkitGcPolicy old_style;  // keepBytes only, as Earthly's fork and dockerd send
  old_style.keep_bytes = 128 << 20;
  old_style.keep_duration = std::chrono::hours(48);
  BuildkitGcPolicy v017;  // BuildKit 0.17's fields
  v017.all = true;
  v017.keep_bytes = 10 << 20;
  v017.max_used_space = 100 << 20;
  v017.min_free_space = 1 << 20;
  w.gc_policies = {old_style, v017};
  d.workers = {w};

  const std::string text = MetricsText(d);
  INFO(text);
  CHECK(text.find("cachewarden_buildkit_up{address=\"unix:///run/buildkit/buildkitd.sock\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("cachewarden_buildkit_info{package=\"github.com/moby/buildkit\",version=\"v0.17."
                  "0\",revision=\"abc\"} 1\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_records{type=\"regular\"} 2\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_record_bytes{type=\"regular\"} 1024\n") !=
        std::string::npos);
  CHECK(text.find("cachewarden_buildkit_bytes{kind=\"total\"} 1024\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_bytes{kind=\"in_use\"} 1000\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_bytes{kind=\"shared\"} 24\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_bytes{kind=\"reclaimable\"} 24\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_workers 1\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_gc_policy_keep_bytes{worker=\"w1\",policy=\"0\"} "
                  "134217728\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_gc_policy_keep_duration_seconds{worker=\"w1\",policy=\"0\"}"
                  " 172800\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_gc_policy_all{worker=\"w1\",policy=\"1\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("cachewarden_buildkit_gc_policy_max_used_bytes{worker=\"w1\",policy=\"1\"} "
                  "104857600\n") != std::string::npos);
  CHECK(text.find("cachewarden_buildkit_gc_policy_min_free_bytes{worker=\"w1\",policy=\"1\"} "
                  "1048576\n") != std::string::npos);
  // A field the server did not send (0 in proto3) is not shown as a cap of 0 bytes.
  CHECK(text.find("cachewarden_buildkit_gc_policy_max_used_bytes{worker=\"w1\",policy=\"0\"}") ==
        std::string::npos);
  // No version known (dockerd 20.10): no info series with empty labels.
  d.version = {};
  CHECK(MetricsText(d).find("cachewarden_buildkit_info") == std::string::npos);
  CHECK(d.ToJson()["workers"][0]["gc_policies"][1]["max_used_space_bytes"] == 100 << 20);
}

TEST_CASE("buildkit reads its address list and refuses other schemes", "[buildkit][config]") {
  const BuildkitOptions o = ReadOptions(
      R"({"address": ["unix:///run/buildkit/buildkitd.sock", "docker-unix:///var/run/docker.sock"],
          "call_timeout": "2s"})");
  REQUIRE(o.addresses.size() == 2);
  CHECK(o.addresses[0].kind == BuildkitAddress::Kind::kUnix);
  CHECK(o.addresses[0].path == "/run/buildkit/buildkitd.sock");
  CHECK(o.addresses[1].kind == BuildkitAddress::Kind::kDockerUnix);
  CHECK(o.addresses[1].path == "/var/run/docker.sock");
  CHECK(o.call_timeout == seconds(2));
  CHECK(ReadOptions("{}").addresses.at(0).text == "unix:///run/buildkit/buildkitd.sock");
  CHECK_THROWS_WITH(
      ReadOptions(R"({"address": ["http://127.0.0.1:8372"]})"),
      Catch::StartsWith("/probes/buildkit/address: ") && Catch::Contains("not a BuildKit address"));
  CHECK_THROWS_WITH(ReadOptions(R"({"address": ["unix://run/buildkit.sock"]})"),
                    Catch::Contains("must be absolute"));
  CHECK_THROWS_WITH(ReadOptions(R"({"address": []})"), Catch::Contains("at least one"));
}

TEST_CASE("buildkit reads tcp:// addresses and gives them tls only when tls is configured",
          "[buildkit][config]") {
  BuildkitOptions o =
      ReadOptions(R"({"address": ["tcp://127.0.0.1:8372", "tcp://[::1]:8372", "unix:///b.sock"]})");
  REQUIRE(o.addresses.size() == 3);
  CHECK(o.addresses[0].kind == BuildkitAddress::Kind::kTcp);
  CHECK(o.addresses[0].path == "127.0.0.1:8372");
  CHECK(o.addresses[1].path == "[::1]:8372");
  CHECK_FALSE(o.addresses[0].tls.has_value());  // plaintext: no tls configured

  o = ReadOptions(R"({"address": ["tcp://buildkitd:8372", "unix:///b.sock"],
                      "tls": {"ca": "/etc/ca.pem", "cert": "/etc/cert.pem", "key": "/etc/key.pem",
                              "server_name": "buildkitd.example"}})");
  REQUIRE(o.addresses[0].tls.has_value());
  CHECK(o.addresses[0].tls->ca == "/etc/ca.pem");
  CHECK(o.addresses[0].tls->cert == "/etc/cert.pem");
  CHECK(o.addresses[0].tls->key == "/etc/key.pem");
  CHECK(o.addresses[0].tls->server_name == "buildkitd.example");
  CHECK_FALSE(o.addresses[1].tls.has_value());  // a unix socket has no TLS

  for (const char* bad : {"tcp://127.0.0.1", "tcp://:8372", "tcp://h:0", "tcp://h:99999",
                          "tcp://h:8372/path", "tcp://::1:8372"}) {
    INFO(bad);
    CHECK_THROWS_WITH(ReadOptions(fmt::format(R"({{"address": ["{}"]}})", bad)),
                      Catch::StartsWith("/probes/buildkit/address: ") &&
                          Catch::Contains("expected tcp://host:port"));
  }
  CHECK_THROWS_WITH(
      ReadOptions(R"({"address": ["tcp://h:1"], "tls": {"cert": "/c", "key": "/k"}})"),
      Catch::StartsWith("/probes/buildkit/tls/ca: ") && Catch::Contains("required"));
  CHECK_THROWS_WITH(
      ReadOptions(R"({"address": ["tcp://h:1"], "tls": {"ca": "/a", "cert": "/c"}})"),
      Catch::StartsWith("/probes/buildkit/tls/key: ") && Catch::Contains("go together"));
  CHECK_THROWS_WITH(
      ReadOptions(R"({"address": ["tcp://h:1"], "tls": {"ca": "ca.pem"}})"),
      Catch::StartsWith("/probes/buildkit/tls/ca: ") && Catch::Contains("absolute path"));
  CHECK_THROWS_WITH(ReadOptions(R"({"address": ["tcp://h:1"], "tls": {"cafile": "/a"}})"),
                    Catch::Contains("/probes/buildkit/tls/cafile"));
}

TEST_CASE("buildkit is off by default and fails with every address's reason", "[buildkit]") {
  bool found = false;
  for (const auto& e : ProbeTable()) {
    if (e.name == "buildkit") {
      found = true;
      CHECK_FALSE(e.enabled_by_default);
    }
  }
  CHECK(found);
  testing::TempDir dir;
  const auto o = ReadOptions(R"({"address": ["unix://)" + dir.path() +
                             R"(/none.sock", "docker-unix://)" + dir.path() + R"(/docker.sock"]})");
  auto probe = NewBuildkitProbe(o);
  ProbeContext ctx;
  std::shared_ptr<const ProbeData> out;
  const Status s = probe->Collect(ctx, &out);
  CHECK(s.code() == StatusCode::kMissing);
  CHECK(s.message().find(dir.path() + "/none.sock") != std::string::npos);
  CHECK(s.message().find(dir.path() + "/docker.sock") != std::string::npos);
  // Only the failure data: both addresses, each down.
  const auto* down = dynamic_cast<const BuildkitDownData*>(out.get());
  REQUIRE(down != nullptr);
  CHECK(down->unreachable.size() == 2);
}

}  // namespace
}  // namespace cachewarden
