// The prune action against a real BuildKit: the one inside the test's own dockerd (Debian's
// docker.io, tests/support/dockerd.h), reached through docker-unix:// on its API socket, driven
// through the real binary (`cachewarden gc`), and checked with what the same dockerd's
// `GET /system/df` lists as BuildCache.
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/dockerd.h"
#include "tests/support/process.h"
#include "tests/support/skip.h"

namespace cachewarden {
namespace {

using testing::BinaryPath;
using testing::RunProcess;

// Records of three types: COPY (regular, and the context: source.local), a RUN writing 300 KiB
// (regular), a RUN --mount=type=cache writing 200 KiB (exec.cachemount).
constexpr const char* kDockerfile = R"(FROM cw-busybox:1
COPY hello.txt /hello.txt
RUN dd if=/dev/zero of=/blob bs=1024 count=300
RUN --mount=type=cache,target=/cache dd if=/dev/zero of=/cache/c bs=1024 count=200
)";

// The ids of the records /system/df lists, and of those not in use.
struct Df {
  std::set<std::string> all, reclaimable;
};

Df BuildCache(const testing::TestDockerd& dockerd) {
  std::string error;
  const std::string text = dockerd.Get("/system/df", &error);
  INFO(error);
  REQUIRE_FALSE(text.empty());
  Df df;
  const nlohmann::json j = nlohmann::json::parse(text);
  if (j.at("BuildCache").is_null()) return df;
  for (const auto& r : j.at("BuildCache")) {
    df.all.insert(r.at("ID").get<std::string>());
    if (!r.at("InUse").get<bool>()) df.reclaimable.insert(r.at("ID").get<std::string>());
  }
  return df;
}

// `cachewarden gc [--dry-run] --json` with one prune policy `policy_keys` (JSON members) at
// dockerd's socket; the run's JSON.
nlohmann::json Gc(const testing::TestDockerd& dockerd, const std::string& policy_keys,
                  bool dry_run) {
  const std::string root = dockerd.dir() + "/cache";
  std::filesystem::create_directories(root);
  const std::string config = dockerd.dir() + "/cachewarden.json";
  testing::WriteFile(config, R"({"probes": {"buildkit": {"address": ["docker-unix://)" +
                                 dockerd.socket_path() + R"("], "call_timeout": "20s"}},
      "gc": {"policies": [{"name": "bk", "action": "prune", "triggers": {"always": true}, )" +
                                 policy_keys + "}]}}");
  std::vector<std::string> argv = {BinaryPath(), "gc",     "--json", "--config",
                                   config,       "--root", root};
  if (dry_run) argv.push_back("--dry-run");
  const testing::ProcessResult r = RunProcess(argv);
  INFO("gc stderr: " << r.err << "\nstdout: " << r.out);
  REQUIRE(r.exit_code == 0);
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  REQUIRE(doc.at("runs").size() == 1);
  return doc.at("runs").at(0);
}

std::set<std::string> Planned(const nlohmann::json& run) {
  std::set<std::string> out;
  for (const auto& e : run.at("plan").at("entries")) {
    if (e.at("decision") == "delete") out.insert(e.at("entry").get<std::string>());
  }
  return out;
}

TEST_CASE("prune through docker-unix: keep_duration keeps young records, all frees them",
          "[gc][prune][dockerd]") {
  if (const std::string why = testing::TestDockerd::Unavailable(); !why.empty()) CW_SKIP(why);
  testing::TestDockerd dockerd;
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
  const Df before = BuildCache(dockerd);
  INFO("records before: " << before.all.size());
  REQUIRE_FALSE(before.reclaimable.empty());

  // Every record was used seconds ago: a keep_duration of 1h keeps them all, dry run or not.
  nlohmann::json young = Gc(dockerd, R"("keep_duration": "1h", "all": true)", true);
  INFO(young.dump(2));
  CHECK(young.at("result") == "dry_run");
  CHECK(young.at("plan").at("entries").size() == before.all.size());
  CHECK(Planned(young).empty());
  CHECK(young.at("skipped").at("young").get<std::size_t>() == before.reclaimable.size());
  young = Gc(dockerd, R"("keep_duration": "1h", "all": true)", false);
  CHECK(young.at("result") == "freed_nothing");
  CHECK(young.at("freed_bytes") == 0);
  CHECK(BuildCache(dockerd).all == before.all);

  // keep_bytes 0 and all: the dry run lists every record not in use, the real run frees them.
  const nlohmann::json plan = Gc(dockerd, R"("keep_bytes": "0B", "all": true)", true);
  INFO(plan.dump(2));
  CHECK(plan.at("result") == "dry_run");
  CHECK(Planned(plan) == before.reclaimable);
  {
    // The text plan names the same records, each as a `delete` line.
    const std::string config = dockerd.dir() + "/cachewarden.json";
    const testing::ProcessResult text = RunProcess(
        {BinaryPath(), "gc", "--dry-run", "--config", config, "--root", dockerd.dir() + "/cache"});
    INFO(text.out);
    CHECK(text.exit_code == 0);
    CHECK(text.out.find("BuildKit at docker-unix://" + dockerd.socket_path()) != std::string::npos);
    for (const auto& id : before.reclaimable) {
      INFO(id);
      const std::size_t at = text.out.find(id);
      REQUIRE(at != std::string::npos);
      const std::size_t line = text.out.rfind('\n', at) + 1;
      CHECK(text.out.substr(line, 9) == "  delete ");
    }
  }
  const nlohmann::json run = Gc(dockerd, R"("keep_bytes": "0B", "all": true)", false);
  INFO(run.dump(2));
  CHECK(run.at("result") == "freed");
  std::set<std::string> freed;
  std::uint64_t sum = 0;
  for (const auto& d : run.at("done")) {
    freed.insert(d.at("entry").get<std::string>());
    sum += d.at("freed_bytes").get<std::uint64_t>();
  }
  CHECK(run.at("freed_bytes") == sum);
  CHECK(sum >= 500 * 1024);  // the two RUNs' bytes at least
  CHECK(run.at("deleted_entries") == freed.size());
  for (const auto& id : before.reclaimable) {
    INFO(id);
    CHECK(freed.contains(id));
  }
  const Df after = BuildCache(dockerd);
  CHECK(after.reclaimable.empty());  // none left, or only records in use
}

// Builds the Dockerfile `dockerfile` in a context directory of its own, `name`.
void Build(const testing::TestDockerd& dockerd, const std::string& name,
           const std::string& dockerfile) {
  const std::string ctx = dockerd.dir() + "/" + name;
  std::filesystem::create_directories(ctx);
  testing::WriteFile(ctx + "/Dockerfile", dockerfile);
  const testing::ProcessResult build =
      dockerd.Docker({"build", "--progress=plain", "-t", "cw-" + name + ":1", ctx});
  INFO("docker build:\n" << build.err << "\ndockerd's log:\n" << dockerd.Log());
  REQUIRE(build.exit_code == 0);
}

TEST_CASE("prune through docker-unix frees the records past keep_duration and keeps the young",
          "[gc][prune][dockerd]") {
  if (const std::string why = testing::TestDockerd::Unavailable(); !why.empty()) CW_SKIP(why);
  testing::TestDockerd dockerd;
  std::string error;
  REQUIRE(dockerd.Start(&error));
  REQUIRE(dockerd.ImportBusybox("cw-busybox:1", &error));
  Build(dockerd, "old", "FROM cw-busybox:1\nRUN dd if=/dev/zero of=/old bs=1024 count=300\n");
  const Df old_build = BuildCache(dockerd);
  // The first build's records grow older than keep_duration (4 s) while the clock runs: a wait on
  // their age, which only time changes.
  const auto built = std::chrono::system_clock::now();
  REQUIRE(testing::WaitUntil(
      [&] { return std::chrono::system_clock::now() - built > std::chrono::seconds(6); },
      std::chrono::seconds(10)));
  Build(dockerd, "young", "FROM cw-busybox:1\nRUN dd if=/dev/zero of=/young bs=1024 count=100\n");
  const Df both = BuildCache(dockerd);
  std::set<std::string> young;
  for (const auto& id : both.all) {
    if (!old_build.all.contains(id)) young.insert(id);
  }
  INFO("old build's records: " << old_build.all.size() << ", young ones: " << young.size());
  REQUIRE_FALSE(young.empty());

  const std::string keys = R"("keep_duration": "4s", "all": true)";
  const nlohmann::json plan = Gc(dockerd, keys, true);
  INFO(plan.dump(2));
  const std::set<std::string> planned = Planned(plan);
  CHECK_FALSE(planned.empty());
  for (const auto& id : planned) CHECK(old_build.all.contains(id));
  const nlohmann::json run = Gc(dockerd, keys, false);
  INFO(run.dump(2));
  CHECK(run.at("result") == "freed");
  std::set<std::string> freed;
  for (const auto& d : run.at("done")) freed.insert(d.at("entry").get<std::string>());
  CHECK_FALSE(freed.empty());
  for (const auto& id : freed) {
    INFO(id);
    CHECK(old_build.all.contains(id));  // only records of the old build went
  }
  const Df after = BuildCache(dockerd);
  for (const auto& id : young) {
    INFO(id);
    CHECK(after.all.contains(id));  // every record younger than keep_duration survived
  }
}

}  // namespace
}  // namespace cachewarden
