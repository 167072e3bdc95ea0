// The real binary: `gc --dry-run` then `gc` on the same tree deletes exactly the planned entries;
// the daemon exports the gc metrics.

#include <fmt/format.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/agent.h"
#include "tests/support/gc_tree.h"
#include "tests/support/http.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using namespace cachewarden::testing;

std::set<std::string> Names(const nlohmann::json& run, const char* list, const char* key,
                            const char* value) {
  std::set<std::string> out;
  for (const auto& e : (list[0] == 'p' ? run["plan"]["entries"] : run["done"])) {
    if (e[key] == value) out.insert(e["entry"].get<std::string>());
  }
  return out;
}

TEST_CASE("gc --dry-run then gc deletes exactly the planned entries", "[gc][e2e]") {
  TempDir tmp;
  std::string root = tmp / "cache", dind = root + "/dind";
  for (int i = 0; i < 6; ++i) {
    std::string e = dind + "/build-" + std::to_string(i);
    MakeDirs(e + "/layer/diff");
    Touch(e + "/layer/diff/blob", std::string(5000 * (i + 1), 'b'));
    AgeTree(e,
            (i % 2 == 0) ? 3 * 86400 : 600);  // even ones old, odd ones young
  }
  MakeDirs(dind + "/cache_abc");
  AgeTree(dind + "/cache_abc", 30 * 86400);
  MakeDirs(root + "/buildkit/snapshots");
  Touch(root + "/buildkit/metadata_v2.db", "bolt");
  AgeTree(root + "/buildkit", 30 * 86400);
  std::string config = tmp / "config.json";
  WriteFile(config, R"({"gc": {"policies": [{"name": "dind", "path": "dind",
      "exclude": ["cache_*"], "min_age": "1h", "triggers": {"older_than": "1d"}}]}})");

  auto dry =
      RunProcess({BinaryPath(), "gc", "--dry-run", "--json", "--config", config, "--root", root});
  INFO(dry.err);
  REQUIRE(dry.exit_code == 0);
  auto plan = nlohmann::json::parse(dry.out)["runs"][0];
  auto planned = Names(plan, "plan", "decision", "delete");
  CHECK(planned == std::set<std::string>{"build-0", "build-2", "build-4"});
  for (const auto& n : planned) CHECK(Exists(dind + "/" + n));

  std::set<std::string> skip;
  for (const auto& n : planned) skip.insert(dind + "/" + n);
  auto before = TreeDigest(tmp.path(), skip);
  auto real = RunProcess({BinaryPath(), "gc", "--json", "--config", config, "--root", root});
  INFO(real.err);
  REQUIRE(real.exit_code == 0);
  auto run = nlohmann::json::parse(real.out)["runs"][0];
  CHECK(run["result"] == "freed");
  CHECK(Names(run, "plan", "decision", "delete") == planned);
  CHECK(Names(run, "done", "result", "deleted") == planned);
  for (const auto& n : planned) CHECK_FALSE(Exists(dind + "/" + n));
  CHECK(TreeDigest(tmp.path(), skip) == before);
  // Every deletion is logged with its policy, entry, bytes and age.
  std::set<std::string> logged;
  std::istringstream lines(real.err);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("msg", "") != "gc deleted an entry") continue;
    CHECK(j["policy"] == "dind");
    CHECK(j["bytes"].get<std::uint64_t>() >= 4096);
    CHECK(j["age_seconds"].get<std::int64_t>() >= 3 * 86400 - 60);
    logged.insert(j["entry"].get<std::string>());
  }
  CHECK(logged == planned);

  auto text = RunProcess({BinaryPath(), "gc", "--dry-run", "--config", config, "--root", root});
  CHECK(text.out.find("policy dind: no trigger holds") != std::string::npos);
  auto unknown =
      RunProcess({BinaryPath(), "gc", "--policy", "nope", "--config", config, "--root", root});
  CHECK(unknown.exit_code == 64);
}

TEST_CASE(
    "gc --dry-run measures an excluded entry, and an age not measured is null, never the epoch",
    "[gc][e2e][guards]") {
  TempDir tmp;
  std::string root = tmp / "cache", dind = root + "/dind";
  MakeDirs(dind + "/cache_keep/layer");
  Touch(dind + "/cache_keep/layer/blob", std::string(20000, 'k'));
  AgeTree(dind + "/cache_keep", 3 * 86400);
  std::string config = tmp / "config.json";
  WriteFile(config, R"({"gc": {"policies": [{"name": "dind", "path": "dind",
      "exclude": ["cache_*"], "min_age": "1h", "triggers": {"always": true}}]}})");
  auto dry =
      RunProcess({BinaryPath(), "gc", "--dry-run", "--json", "--config", config, "--root", root});
  INFO(dry.err);
  REQUIRE(dry.exit_code == 0);
  auto item = nlohmann::json::parse(dry.out)["runs"][0]["plan"]["entries"][0];
  CHECK(item["entry"] == "cache_keep");
  CHECK(item["skip_reason"] == "excluded");
  CHECK(item["bytes"].get<std::uint64_t>() >= 20000);
  CHECK(item["age_seconds"].get<double>() >= 3 * 86400 - 60);
  CHECK(item["age_seconds"].get<double>() < 3 * 86400 + 60);
  auto text = RunProcess({BinaryPath(), "gc", "--dry-run", "--config", config, "--root", root});
  CHECK(text.out.find("3d") != std::string::npos);
}

// What happens in a few directories, through inotify: an observer outside the process under test.
class DirWatch {
 public:
  DirWatch() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) { REQUIRE(fd_ >= 0); }
  ~DirWatch() { close(fd_); }
  void Add(const std::string& dir, std::uint32_t mask) {
    int wd = inotify_add_watch(fd_, dir.c_str(), mask);
    REQUIRE(wd >= 0);
    dirs_[wd] = dir;
  }
  // "<dir>/<name> OPEN|ACCESS|CREATE" for each event queued since the last call.
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    alignas(inotify_event) char buf[8192];
    for (ssize_t n; (n = read(fd_, buf, sizeof(buf))) > 0;) {
      for (char* p = buf; p < buf + n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(p);
        const char* what = (e->mask & IN_CREATE) ? "CREATE"
                           : (e->mask & IN_OPEN) ? "OPEN"
                                                 : "ACCESS";
        out.push_back(dirs_[e->wd] + "/" + (e->len > 0 ? e->name : "") + " " + what);
        p += sizeof(inotify_event) + e->len;
      }
    }
    return out;
  }

 private:
  int fd_;
  std::map<int, std::string> dirs_;
};

TEST_CASE("gc collects only the volume figures: no latency file and no walk of the cache",
          "[gc][e2e]") {
  TempDir tmp;
  std::string root = tmp / "cache", dind = root + "/dind";
  for (int i = 0; i < 2; ++i) {
    MakeDirs(dind + "/build-" + std::to_string(i) + "/diff");
    Touch(dind + "/build-" + std::to_string(i) + "/diff/blob", std::string(20000, 'b'));
    AgeTree(dind + "/build-" + std::to_string(i), 3 * 86400);
  }
  MakeDirs(root + "/buildkit/snapshots");
  Touch(root + "/buildkit/metadata_v2.db", "bolt");
  std::string config = tmp / "config.json";
  // Every probe enabled (the defaults): gc must still run only the volume one.
  WriteFile(config, R"({"gc": {"policies": [{"name": "dind", "path": "dind", "min_age": "1h",
      "triggers": {"older_than": "1d"}}]}})");
  // The latency probe would create <root>/.cachewarden (and remove it again when it retires, so
  // only a watch sees it afterwards); the scan would open and read buildkit/, which no policy's
  // path reaches.
  DirWatch watch;
  watch.Add(root, IN_CREATE);
  watch.Add(root + "/buildkit", IN_OPEN | IN_ACCESS);

  auto dry =
      RunProcess({BinaryPath(), "gc", "--dry-run", "--json", "--config", config, "--root", root});
  INFO(dry.err);
  REQUIRE(dry.exit_code == 0);
  auto plan = nlohmann::json::parse(dry.out)["runs"][0];
  CHECK(Names(plan, "plan", "decision", "delete") == std::set<std::string>{"build-0", "build-1"});
  // The policy measured its entries itself.
  for (const auto& e : plan["plan"]["entries"]) CHECK(e["bytes"].get<std::uint64_t>() >= 20000);
  CHECK(watch.Take().empty());
  CHECK_FALSE(Exists(root + "/.cachewarden"));

  auto real = RunProcess({BinaryPath(), "gc", "--json", "--config", config, "--root", root});
  INFO(real.err);
  REQUIRE(real.exit_code == 0);
  CHECK(nlohmann::json::parse(real.out)["runs"][0]["result"] == "freed");
  CHECK(watch.Take().empty());
  CHECK_FALSE(Exists(root + "/.cachewarden"));

  // The watch sees both when every probe runs (`check`): it would have caught them.
  RunProcess({BinaryPath(), "check", "--config", config, "--root", root});
  auto seen = watch.Take();
  INFO(fmt::format("{}", fmt::join(seen, "\n")));
  CHECK(std::count(seen.begin(), seen.end(), root + "/.cachewarden CREATE") == 1);
  CHECK(std::count(seen.begin(), seen.end(), root + "/buildkit/ OPEN") >= 1);
}

TEST_CASE("the agent runs gc policies on their interval and exports gc metrics", "[gc][e2e]") {
  TempDir tmp;
  std::string root = tmp / "cache";
  MakeDirs(root + "/dind/build-old/x");
  AgeTree(root + "/dind/build-old", 3 * 86400);
  MakeDirs(root + "/dind/build-young");
  nlohmann::json config = {{"root", root},
                           {"gc",
                            {{"policies",
                              {{{"name", "dind"},
                                {"path", "dind"},
                                {"interval", "1s"},
                                {"triggers", {{"older_than", "1d"}}}},
                               {{"name", "stuck"},
                                {"path", "dind"},
                                {"interval", "1s"},
                                {"min_age", "30d"},
                                {"triggers", {{"always", true}}}}}}}},
                           // Snapshots (and so the GC history the rules read) every 200 ms.
                           {"probes", {{"volume", {{"interval", "200ms"}}}}},
                           {"alerts",
                            {{"evaluation_interval", "200ms"},
                             {"rules", {{"CacheGCIneffective", {{"trigger_held_for", "2s"}}}}}}}};
  AgentUnderTest agent(tmp.path(), config.dump());
  std::string why;
  REQUIRE(agent.Start(&why));
  CHECK(WaitUntil(
      [&] { return agent.Metric(R"(cachewarden_gc_deleted_entries_total{policy="dind"})") == 1; }));
  CHECK_FALSE(Exists(root + "/dind/build-old"));
  CHECK(Exists(root + "/dind/build-young"));
  CHECK(agent.Metric(R"(cachewarden_gc_freed_bytes_total{policy="dind"})") > 0);
  // Triggered, but everything is too young: the visible "freed nothing" state.
  CHECK(WaitUntil([&] {
    return agent.Metric(R"(cachewarden_gc_last_result{policy="stuck",result="freed_nothing"})") ==
           1;
  }));
  CHECK(agent.Metric(R"(cachewarden_gc_skipped_entries_total{policy="stuck",reason="young"})") >=
        1);
  auto metrics = HttpGet(agent.Url("/metrics"));
  bool ok = false;
  INFO(PromtoolCheckMetrics(metrics.body, &ok));
  CHECK(ok);
  auto status = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
  CHECK(status["gc"]["policies"]["dind"]["runs"].contains("freed"));
  // The stuck policy's trigger holds and it frees nothing: CacheGCIneffective fires for it, and
  // only for it.
  auto gc_alert = [&](const std::string& policy) {
    auto st = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
    for (const auto& a : st["alerts"]) {
      if (a["alertname"] == "CacheGCIneffective" && a["labels"]["policy"] == policy) return a;
    }
    return nlohmann::json::object();
  };
  REQUIRE(WaitUntil([&] { return gc_alert("stuck").value("state", "") == "firing"; }));
  CHECK_THAT(gc_alert("stuck")["summary"].get<std::string>(),
             Catch::Contains("GC policy stuck") && Catch::Contains("freed nothing"));
  CHECK(gc_alert("dind").empty());
  agent.process().Signal(SIGTERM);
  int code = -1;
  CHECK(agent.process().WaitExit(std::chrono::seconds(10), &code));
  CHECK(code == 0);
}

// Files left under `dir` (not following symlinks).
std::size_t CountFiles(const std::string& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    n += it->is_regular_file() ? 1 : 0;
  }
  return n;
}

TEST_CASE("a reload or a shutdown cancels the agent's gc run part way", "[gc][e2e]") {
  TempDir tmp;
  std::string root = tmp / "cache";
  const std::string entry = root + "/dind/build-old";
  constexpr std::size_t kFiles = 3000;
  for (int d = 0; d < 10; ++d) {
    MakeDirs(entry + "/d" + std::to_string(d));
    for (std::size_t f = 0; f < kFiles / 10; ++f) {
      Touch(entry + "/d" + std::to_string(d) + "/f" + std::to_string(f));
    }
  }
  // 50 unlinks a second: the whole entry would take a minute.
  auto config = [&](bool dry_run) {
    nlohmann::json policy = {{"name", "dind"},
                             {"path", "dind"},
                             {"interval", "1s"},
                             {"max_delete_rate", 50},
                             {"dry_run", dry_run},
                             {"skip_open", false},
                             // Not by age: the part deleted makes the entry's directories new.
                             {"min_age", "0s"},
                             {"triggers", {{"always", true}}}};
    return nlohmann::json{{"root", root}, {"gc", {{"policies", {policy}}}}}.dump();
  };
  AgentUnderTest agent(tmp.path(), config(false));
  std::string why;
  REQUIRE(agent.Start(&why));
  REQUIRE(WaitUntil([&] { return CountFiles(entry) < kFiles - 5; }));

  // SIGHUP: the run in progress belongs to the old config and is cancelled.
  WriteFile(agent.config_path(), config(true));
  agent.process().Signal(SIGHUP);
  const std::string cancelled = R"(cachewarden_gc_runs_total{policy="dind",result="cancelled"})";
  REQUIRE(WaitUntil([&] { return agent.Metric(cancelled) == 1; }));
  const std::size_t left = CountFiles(entry);
  CHECK(left > 0);
  // The new config's dry runs delete nothing more.
  REQUIRE(WaitUntil([&] {
    return agent.Metric(R"(cachewarden_gc_runs_total{policy="dind",result="dry_run"})") >= 2;
  }));
  CHECK(CountFiles(entry) == left);

  // Deleting again, then SIGTERM part way: the agent exits at once, 0.
  WriteFile(agent.config_path(), config(false));
  agent.process().Signal(SIGHUP);
  REQUIRE(WaitUntil([&] { return CountFiles(entry) < left - 5; }));
  agent.process().Signal(SIGTERM);
  int code = -1;
  CHECK(agent.process().WaitExit(std::chrono::seconds(3), &code));
  CHECK(code == 0);
  CHECK(CountFiles(entry) > 0);
  CHECK_THAT(agent.Stderr(), Catch::Contains(R"("result":"cancelled")"));
}

TEST_CASE("textfile carries measured latency, the alert series and, with --gc, the gc series",
          "[cli][gc]") {
  TempDir tmp;
  const std::string root = tmp / "cache";
  const std::string dind = root + "/dind";
  MakeDirs(dind + "/build-old/d");
  Touch(dind + "/build-old/d/f", std::string(8192, 'x'));
  AgeTree(dind + "/build-old", 3 * 86400);
  MakeDirs(dind + "/build-new");
  Touch(dind + "/build-new/f");
  const std::string config = tmp / "config.json";
  // Any disk is over 0.01% used: the disk rule holds and fires at once (no `for`); the inode rule
  // holds too but has a `for`, so one evaluation leaves it pending.
  WriteFile(config, R"({"gc": {"policies": [{"name": "dind", "path": "dind", "min_age": "1h",
      "triggers": {"older_than": "1d"}}]},
      "alerts": {"rules": {"CacheDiskAlmostFull": {"warning_percent": 0.01, "for": "0s"},
                           "CacheInodesAlmostFull": {"warning_percent": 0.0001, "for": "5m"}}}})");
  const std::string out = tmp / "cachewarden.prom";
  auto r = RunProcess({BinaryPath(), "textfile", "--config", config, "--root", root, "--out", out});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string text = ReadFile(out);
  // The warm-up and then probes.latency.oneshot_samples (5) measured runs.
  for (const char* op : {"read", "write", "fsync", "metadata"}) {
    CHECK(MetricValue(text, fmt::format("cachewarden_io_latency_seconds_count{{op=\"{}\"}}", op)) ==
          5);
  }
  CHECK(MetricValue(
            text,
            R"(cachewarden_alert_firing{alertname="CacheDiskAlmostFull",severity="warning"})") ==
        1);
  CHECK(MetricValue(
            text,
            R"(cachewarden_alert_pending{alertname="CacheInodesAlmostFull",severity="warning"})") ==
        1);
  CHECK(MetricValue(
            text,
            R"(cachewarden_alert_firing{alertname="CacheInodesAlmostFull",severity="warning"})") ==
        0);
  // Without --gc nothing is deleted and there are no gc series.
  CHECK(Exists(dind + "/build-old"));
  CHECK(text.find("cachewarden_gc_runs_total") == std::string::npos);

  r = RunProcess(
      {BinaryPath(), "textfile", "--gc", "--config", config, "--root", root, "--out", out});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  text = ReadFile(out);
  bool ok = false;
  INFO(PromtoolCheckMetrics(text, &ok));
  CHECK(ok);
  CHECK_FALSE(Exists(dind + "/build-old"));
  CHECK(Exists(dind + "/build-new"));
  CHECK(MetricValue(text, R"(cachewarden_gc_runs_total{policy="dind",result="freed"})") == 1);
  CHECK(MetricValue(text, R"(cachewarden_gc_deleted_entries_total{policy="dind"})") == 1);
  CHECK(MetricValue(text, R"(cachewarden_gc_last_freed_bytes{policy="dind"})") >= 8192);
}

}  // namespace
}  // namespace cachewarden
