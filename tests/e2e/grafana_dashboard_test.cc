// deploy/grafana/cachewarden.json: every query of every panel, evaluated by the real Debian
// Prometheus scraping the real agent, returns a series. Grafana itself is not in Debian 12; what
// it would send is each target's `expr` with the template variables filled in ($instance and $pod
// as "All", .*; $__rate_interval as a few scrape intervals). BuildKit's panels need a BuildKit: a
// gRPC server written in the test from the probe's .proto subset serves them (a fake, because the
// only real one here is inside a dockerd, which this test does not start).
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "probes/buildkit/proto/control.grpc.pb.h"
#include "tests/support/agent.h"
#include "tests/support/grpc_server.h"
#include "tests/support/http.h"
#include "tests/support/mounts.h"
#include "tests/support/peers.h"

namespace cachewarden {
namespace {

using namespace testing;
namespace pb = ::moby::buildkit::v1;

class DashboardBuildkit final : public pb::Control::Service {
  grpc::Status DiskUsage(grpc::ServerContext*, const pb::DiskUsageRequest*,
                         pb::DiskUsageResponse* resp) override {
    auto* r = resp->add_record();
    r->set_id("r1");
    r->set_recordtype("regular");
    r->set_size(1 << 20);
    return grpc::Status::OK;
  }
  grpc::Status ListWorkers(grpc::ServerContext*, const pb::ListWorkersRequest*,
                           pb::ListWorkersResponse* resp) override {
    auto* w = resp->add_record();
    w->set_id("w1");
    w->add_gcpolicy()->set_keepbytes(8 << 20);
    return grpc::Status::OK;
  }
};

// Prometheus's instant query: the number of series `expr` returns, or -1 (and *error) if it fails.
int SeriesCount(int port, const std::string& expr, std::string* error) {
  std::string q;
  for (unsigned char c : expr) {  // percent-encode everything but unreserved characters
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      q += static_cast<char>(c);
    } else {
      q += fmt::format("%{:02X}", c);
    }
  }
  auto r = HttpGet(fmt::format("http://127.0.0.1:{}/api/v1/query?query={}", port, q));
  if (r.code != 200) {
    *error = fmt::format("HTTP {}: {}", r.code, r.body);
    return -1;
  }
  return static_cast<int>(nlohmann::json::parse(r.body)["data"]["result"].size());
}

TEST_CASE("every panel of the Grafana dashboard returns a series from a real agent",
          "[e2e][prometheus][grafana]") {
  CW_REQUIRE_ROOT();
  const auto dashboard =
      nlohmann::json::parse(ReadFile(SourceDir() + "/deploy/grafana/cachewarden.json"));
  std::vector<std::pair<std::string, std::string>> queries;  // panel title, expr
  for (const auto& panel : dashboard["panels"]) {
    if (panel["type"] == "row") continue;
    REQUIRE(panel.contains("targets"));
    for (const auto& t : panel["targets"]) {
      std::string e = t["expr"];
      e = std::regex_replace(e, std::regex(R"(\$__rate_interval)"), "5s");
      e = std::regex_replace(e, std::regex(R"(\$instance|\$pod)"), ".*");
      queries.emplace_back(panel["title"], e);
    }
  }
  REQUIRE(queries.size() >= 15);
  // The variables are templated by instance and pod.
  std::set<std::string> variables;
  for (const auto& v : dashboard["templating"]["list"]) variables.insert(v["name"]);
  CHECK(variables.contains("instance"));
  CHECK(variables.contains("pod"));

  TempDir dir;
  const std::string cache = dir / "cache";
  // A device of its own, so that the diskstats panels have a device to show.
  std::filesystem::create_directories(cache);
  REQUIRE(MountExt4Loop(dir / "cache.img", cache, 64) == "");
  std::filesystem::create_directories(cache + "/buildkit");
  std::filesystem::create_directories(cache + "/dind/0123abcd/tmp");
  WriteFile(cache + "/dind/0123abcd/tmp/f", std::string(4096, 'x'));
  DashboardBuildkit service;
  const std::string socket = dir / "buildkitd.sock";
  UnixGrpcServer buildkit(socket, &service);

  AgentUnderTest agent(dir.path(), fmt::format(R"({{"root": "{}", "listen": "127.0.0.1:0",
      "probes": {{"volume": {{"interval": "200ms", "growth_min_span": "0s"}},
                  "latency": {{"interval": "300ms"}},
                  "diskstats": {{"interval": "300ms"}},
                  "buildkit": {{"enabled": true, "interval": "500ms",
                                "address": ["unix://{}"]}}}}}})",
                                               cache, socket));
  std::string why;
  REQUIRE(agent.Start(&why));
  WriteFile(dir / "prometheus.yml", fmt::format(R"(global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: cachewarden
    static_configs:
      - targets: ["127.0.0.1:{}"]
)",
                                                agent.port()));
  RunningPrometheus prometheus(dir.path());
  REQUIRE(prometheus.ready());
  for (const auto& [title, expr] : queries) {
    std::string error;
    int n = 0;
    const bool answered = WaitUntil(
        [&] {
          n = SeriesCount(prometheus.port(), expr, &error);
          return n > 0;
        },
        std::chrono::seconds(60));
    INFO(title << ": " << expr << " -> " << n << " series " << error);
    INFO(agent.Stderr());
    CHECK(answered);
  }
}

}  // namespace
}  // namespace cachewarden
