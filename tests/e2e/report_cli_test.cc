// The real binary's words for people: what the agent says it will delete, what `check` names, what
// `config` prints, and that /status and `check --json` give one answer.
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <utime.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/agent.h"
#include "tests/support/http.h"

namespace cachewarden::testing {
namespace {

[[maybe_unused]] ProcessResult Cw(std::vector<std::string> args) {
  args.insert(args.begin(), BinaryPath());
  return RunProcess(args, {"CACHEWARDEN_CONFIG="});
}

constexpr std::string_view kDefaultDindPolicy =
    "policy dind deletes dind/* (not cache_*) idle over 1d, or while the volume is over 85% used, "
    "oldest first until 80%; never an entry idle under 6h, one held open or one with a mount "
    "inside; checked every 1m";
constexpr std::string_view kDefaultBuildkitPolicy =
    "policy buildkit prunes BuildKit's records not in use and unused for 1h while the volume is "
    "over 85% used, as BuildKit decides; only when BuildKit answers at probes.buildkit.address; "
    "checked every 1m";

void StopAgent(AgentUnderTest& agent) {
  // Signals are handled once the agent is ready.
  REQUIRE(WaitUntil([&] { return HttpGet(agent.Url("/readyz")).code == 200; }));
  int code = -1;
  agent.process().Signal(SIGTERM);
  REQUIRE(agent.process().WaitExit(std::chrono::seconds(5), &code));
  CHECK(code == 0);
}

TEST_CASE("run logs each gc policy in words at start and /status shows them", "[e2e][report]") {
  TempDir dir;
  std::filesystem::create_directory(dir / "cache");
  AgentUnderTest agent(dir.path(), fmt::format(R"({{"root": "{}"}})", dir / "cache"));
  std::string why;
  REQUIRE(agent.Start(&why));
  CHECK_THAT(agent.Stderr(),
             Catch::Contains(fmt::format("\"msg\":\"gc: {}\"", kDefaultDindPolicy)));
  auto j = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
  CHECK(j["agent"]["gc"]["enabled"] == true);
  CHECK_THAT(agent.Stderr(),
             Catch::Contains(fmt::format("\"msg\":\"gc: {}\"", kDefaultBuildkitPolicy)));
  REQUIRE(j["agent"]["gc"]["policies"].size() == 2);
  CHECK(j["agent"]["gc"]["policies"][0]["name"] == "dind");
  CHECK(j["agent"]["gc"]["policies"][0]["description"] == kDefaultDindPolicy);
  CHECK(j["agent"]["gc"]["policies"][1]["name"] == "buildkit");
  CHECK(j["agent"]["gc"]["policies"][1]["description"] == kDefaultBuildkitPolicy);
  StopAgent(agent);
}

TEST_CASE("run with gc disabled says at start that nothing is deleted", "[e2e][report]") {
  TempDir dir;
  AgentUnderTest agent(dir.path(),
                       fmt::format(R"({{"root": "{}", "gc": {{"enabled": false}}}})", dir.path()));
  std::string why;
  REQUIRE(agent.Start(&why));
  CHECK_THAT(agent.Stderr(),
             Catch::Contains("\"msg\":\"gc: disabled (gc.enabled is false): nothing is deleted\""));
  StopAgent(agent);
}

TEST_CASE("config print shows the default dind and buildkit policies with every default filled in",
          "[e2e][report]") {
  auto r = Cw({"config", "print"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["gc"]["enabled"] == true);
  REQUIRE(j["gc"]["policies"].size() == 2);
  const auto& b = j["gc"]["policies"][1];
  CHECK(b["name"] == "buildkit");
  CHECK(b["action"] == "prune");
  CHECK(b["path"] == "");
  CHECK(b["keep_duration"] == "1h");
  CHECK(b["keep_bytes"] == "0B");
  CHECK(b["max_used_space"] == "0B");
  CHECK(b["min_free_space"] == "0B");
  CHECK(b["filters"] == nlohmann::json::array());
  CHECK(b["all"] == false);
  CHECK(b["prune_timeout"] == "10m");
  CHECK(b["when_unreachable"] == "skip");
  CHECK(b["triggers"]["used_above"] == "85%");
  CHECK(b["triggers"]["older_than"].is_null());
  // Keys a prune policy does not use are not shown, and what is shown loads again as it is.
  CHECK_FALSE(b.contains("min_age"));
  CHECK_FALSE(b.contains("include"));
  CHECK_FALSE(b.contains("command"));
  TempDir dir;
  WriteFile(dir / "printed.json", r.out);
  const auto again = Cw({"config", "check", "--config", dir / "printed.json"});
  INFO(again.err);
  CHECK(again.exit_code == 0);
  const auto& p = j["gc"]["policies"][0];
  CHECK(p["name"] == "dind");
  CHECK(p["path"] == "dind");
  CHECK(p["action"] == "delete");
  CHECK(p["include"] == nlohmann::json::array({"*"}));
  CHECK(p["exclude"] == nlohmann::json::array({"cache_*"}));
  CHECK(p["min_age"] == "6h");
  CHECK(p["skip_open"] == true);
  CHECK(p["unmount_stale"] == false);
  CHECK(p["interval"] == "1m");
  CHECK(p["triggers"]["older_than"] == "1d");
  CHECK(p["triggers"]["used_above"] == "85%");
  CHECK(p["triggers"]["until_below"] == "80%");
  CHECK(p["triggers"]["free_below"].is_null());
}

// A file of `bytes` bytes at `path`, last modified `age` ago (its directory too).
void OldFile(const std::string& path, std::size_t bytes, std::chrono::seconds age) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << std::string(bytes, 'x');
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - age);
  struct utimbuf times {
    t, t
  };
  REQUIRE(::utime(path.c_str(), &times) == 0);
  REQUIRE(::utime(std::filesystem::path(path).parent_path().c_str(), &times) == 0);
}

TEST_CASE("check names each dind leftover with its size and real idle time and says cachewarden gc",
          "[e2e][report]") {
  TempDir dir;
  const std::string root = dir / "cache";
  std::filesystem::create_directories(root + "/buildkit");
  OldFile(root + "/dind/cache_keep/f", 1000, std::chrono::hours(96));
  OldFile(root + "/dind/old1/f", 5 << 20, std::chrono::hours(72));
  OldFile(root + "/dind/fresh/f", 1000, std::chrono::seconds(0));
  WriteFile(dir / "limit.json",
            R"({"alerts": {"rules": {"DindLeftoversLarge": {"max_size": "1MiB"}}}})");
  auto r = Cw({"check", "--root", root, "--config", dir / "limit.json"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains("[WARNING] DindLeftoversLarge: 1 leftover dind entry under " +
                                    root + "/dind holds 5.0 MiB: old1 (5.0 MiB, idle 3d)\n"));
  CHECK_THAT(r.out, Catch::Contains("`cachewarden gc` deletes them"));
  CHECK_THAT(r.out, !Catch::Contains("cache_keep") && !Catch::Contains("fresh ("));
  // Under the limits it is an OK line that still names the entry and the command.
  r = Cw({"check", "--root", root});
  CHECK_THAT(r.out, Catch::Contains("[OK] DindLeftoversLarge: 1 leftover dind entry under " + root +
                                    "/dind holds 5.0 MiB: old1 (5.0 MiB, idle 3d) (limits: 10.0 "
                                    "GiB, 100 entries; `cachewarden gc` frees them)"));
}

TEST_CASE("check on a missing root says so in one line and exits 3, scan exits 66",
          "[e2e][report]") {
  TempDir dir;
  const std::string root = dir / "nonexistent";
  auto r = Cw({"check", "--root", root});
  CHECK(r.exit_code == 3);
  CHECK(r.out == fmt::format("CACHEWARDEN UNKNOWN - cache root {} does not exist\n"
                             "cache: {} (config: built-in defaults)\n"
                             "  [UNKNOWN] CacheRootMissing: cache root {} does not exist\n"
                             "      fix: Point --root (or `root` in the config, or "
                             "$EARTHLY_TMP_DIR) at BuildKit's cache directory, or create it.\n",
                             root, root, root));
  CHECK_THAT(r.out, !Catch::Contains("[OK]"));
  r = Cw({"check", "--json", "--root", root});
  CHECK(r.exit_code == 3);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["status"] == "unknown");
  CHECK(j["exit_code"] == 3);
  REQUIRE(j["findings"].size() == 1);
  CHECK(j["findings"][0]["summary"] == "cache root " + root + " does not exist");
  r = Cw({"scan", "--root", root});
  CHECK(r.exit_code == 66);
  CHECK(r.err == "cachewarden: scan: cache root " + root + " does not exist\n");
}

TEST_CASE("gc on a missing root says so and exits 66, with no plan", "[e2e][report][gc]") {
  // It used to plan nothing, say "no trigger holds" and exit 0, as if the cache were fine.
  TempDir dir;
  const std::string root = dir / "nonexistent";
  for (const char* mode : {"--dry-run", "--json"}) {
    auto r = Cw({"gc", mode, "--root", root});
    INFO(mode << ": " << r.out);
    CHECK(r.exit_code == 66);
    CHECK(r.out.empty());
    CHECK(r.err == "cachewarden: gc: cache root " + root + " does not exist\n");
  }
  CHECK_THAT(Cw({"gc", "--help"}).out, Catch::Contains("  66  the cache root does not exist"));
}

TEST_CASE("every command's --help lists its exit codes", "[e2e][report]") {
  for (const char* c : {"run", "check", "textfile", "config", "scan", "gc", "version"}) {
    INFO(c);
    auto r = Cw({c, "--help"});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("\nexit codes:\n  0   "));
  }
  CHECK_THAT(Cw({"scan", "--help"}).out, Catch::Contains("  66  the cache root does not exist"));
}

TEST_CASE("/status carries the same status, exit code and findings as check --json",
          "[e2e][report]") {
  TempDir dir;
  const std::string root = dir / "cache";
  std::filesystem::create_directories(root + "/buildkit");
  OldFile(root + "/dind/old1/f", 5 << 20, std::chrono::hours(72));
  // GC off, so that the leftover stays for both to see; a low limit, so that it is a warning. The
  // latency probe's second run is its first measured one (check takes its samples at once).
  const std::string config = fmt::format(
      R"({{"root": "{}", "gc": {{"enabled": false}},
           "probes": {{"latency": {{"interval": "100ms"}}}},
           "alerts": {{"rules": {{"DindLeftoversLarge": {{"max_size": "1MiB"}}}}}}}})",
      root);
  AgentUnderTest agent(dir.path(), config);
  std::string why;
  REQUIRE(agent.Start(&why));
  REQUIRE(WaitUntil([&] { return HttpGet(agent.Url("/readyz")).code == 200; }));
  REQUIRE(WaitUntil([&] {
    auto st = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
    for (const auto& f : st["findings"]) {
      if (f["source"] == "CacheIOLatencyHigh") return true;
    }
    return false;
  }));
  auto check = Cw({"check", "--json", "--config", agent.config_path()});
  REQUIRE(check.exit_code == 1);
  auto want = nlohmann::json::parse(check.out);
  auto status = nlohmann::json::parse(HttpGet(agent.Url("/status")).body);
  CHECK(status["status"] == "warning");
  CHECK(status["status"] == want["status"]);
  CHECK(status["exit_code"] == want["exit_code"]);
  // The same findings in the same order; summaries of figures that move (the host disk's) aside.
  auto sources = [](const nlohmann::json& findings) {
    std::vector<std::string> out;
    for (const auto& f : findings) {
      out.push_back(f["severity"].get<std::string>() + " " + f["source"].get<std::string>());
    }
    return out;
  };
  CHECK(sources(status["findings"]) == sources(want["findings"]));
  auto leftover = [](const nlohmann::json& findings) {
    for (const auto& f : findings) {
      if (f["source"] == "DindLeftoversLarge") return f;
    }
    return nlohmann::json();
  };
  CHECK(leftover(status["findings"]) == leftover(want["findings"]));
  CHECK(leftover(status["findings"])["severity"] == "warning");
  StopAgent(agent);
}

TEST_CASE("a wrong option prints the usage of the command it was given to", "[e2e][report]") {
  auto r = Cw({"check", "--quiet"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.err, Catch::StartsWith("cachewarden: check: unknown option --quiet\n"
                                      "usage: cachewarden check [options]\n"));
  CHECK_THAT(r.err, Catch::Contains("  --json ") && !Catch::Contains("\ncommands:\n"));
  CHECK(r.out.empty());
  r = Cw({"gc", "--policy"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.err,
             Catch::Contains("usage: cachewarden gc [options]") && Catch::Contains("  --dry-run "));
  r = Cw({"scan", "extra"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.err, Catch::Contains("usage: cachewarden scan [options]"));
}

TEST_CASE("config check reports every error, each as FILE: /json/path: message, exit 78",
          "[e2e][report]") {
  TempDir dir;
  const std::string file = dir / "typos.json";
  WriteFile(file, R"({"probes": {"volume": {"intervall": "5s"}, "scan": {"topp": 3}},
                      "gc": {"enabld": true, "policies": [{"name": "p", "path": "dind",
                             "triggers": {"older_than": "forever"}}]},
                      "listen": "nope"})");
  auto r = Cw({"config", "check", file});
  CHECK(r.exit_code == 78);
  CHECK(r.out.empty());
  CHECK(r.err == file +
                     ": /listen: expected host:port or :port (an IPv4 address or [IPv6], port 0 "
                     "to 65535), got \"nope\"\n" +
                     file +
                     ": /probes/volume/intervall: unknown key; did you mean \"interval\"?\n" +
                     file + ": /probes/scan/topp: unknown key; did you mean \"top\"?\n" + file +
                     ": /gc/policies/0/triggers/older_than: expected a duration string from \"0s\" "
                     "to \"36500d\" like \"500ms\", \"90s\", \"15m\", \"6h\", \"7d\", got "
                     "\"forever\"\n" +
                     file + ": /gc/enabld: unknown key; did you mean \"enabled\"?\n");
  // Other commands name the same errors after their prefix.
  r = Cw({"check", "--config", file});
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::Contains("cachewarden: bad config: " + file +
                                    ": /probes/scan/topp: unknown key") &&
                        Catch::Contains("cachewarden: bad config: " + file + ": /gc/enabld"));
  // A syntax error names the file once.
  WriteFile(file, "{\"root\": }");
  r = Cw({"config", "check", file});
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err, Catch::StartsWith(file + ":1:10: invalid JSON"));
}

TEST_CASE(
    "check's text shows the cache size, every probe's outcome and the findings in the JSON's order",
    "[e2e][report]") {
  TempDir dir;
  const std::string root = dir / "cache";
  std::filesystem::create_directories(root + "/buildkit");
  OldFile(root + "/dind/old1/f", 5 << 20, std::chrono::hours(72));
  WriteFile(dir / "limit.json",
            R"({"alerts": {"rules": {"DindLeftoversLarge": {"max_size": "1MiB"}}}})");
  auto text = Cw({"check", "--root", root, "--config", dir / "limit.json"});
  auto json = Cw({"check", "--json", "--root", root, "--config", dir / "limit.json"});
  INFO(text.out);
  CHECK_THAT(text.out, Catch::Contains("\n  size: 5.0 MiB in ") && Catch::Contains("dind 5.0 MiB"));
  CHECK_THAT(text.out,
             Catch::Contains("\n  probes: volume ok, scan ok, mounts ok, dind ok, logs ok, "
                             "latency ok, diskstats ok\n"));
  // What a probe says of itself follows, in the report, not as a log line on stderr.
  CHECK_THAT(text.out,
             Catch::Contains("\n  logs: no buildkitd log configured or found (looked in "));
  CHECK(text.err.find("logs:") == std::string::npos);
  // The findings, as the text lists them, are the JSON's, in the same order (worst first).
  std::vector<std::string> from_text, from_json;
  for (std::size_t at = text.out.find("\n  ["); at != std::string::npos;
       at = text.out.find("\n  [", at + 1)) {
    auto colon = text.out.find(": ", at);
    from_text.push_back(text.out.substr(at + 3, colon - at - 3));
  }
  const auto report = nlohmann::json::parse(json.out);
  for (const auto& f : report["findings"]) {
    std::string severity = f["severity"];
    for (auto& c : severity) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    from_json.push_back("[" + severity + "] " + f["source"].get<std::string>());
  }
  CHECK(from_text == from_json);
  REQUIRE_FALSE(from_json.empty());
  CHECK(from_json.front() == "[WARNING] DindLeftoversLarge");
}

TEST_CASE("scan says its ages are modification ages, in check's word idle", "[e2e][report]") {
  TempDir dir;
  OldFile(dir / "cache/dind/old1/f", 1000, std::chrono::hours(72));
  auto r = Cw({"scan", "--root", dir / "cache"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("(idle: since anything in it was last modified; oldest: its "
                                    "least recently modified file)\n"));
  CHECK_THAT(r.out, Catch::Contains("  idle  oldest\n") && Catch::Contains("idle 3d"));
}

TEST_CASE("gc --dry-run says idle as check and scan do, not older than or age", "[e2e][report]") {
  TempDir dir;
  OldFile(dir / "cache/dind/old1/f", 1000, std::chrono::hours(72));
  OldFile(dir / "cache/dind/fresh/f", 1000, std::chrono::hours(1));
  auto r = Cw({"gc", "--dry-run", "--root", dir / "cache"});
  INFO(r.out);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("policy dind: triggered by entries idle over 1d\n"));
  CHECK_THAT(r.out, Catch::Contains(" IDLE  ENTRY  (why)\n"));
  CHECK_THAT(r.out, Catch::Contains("old1  (idle over 1d)"));
  CHECK_THAT(r.out, Catch::Contains("fresh  (young (idle 1h"));
  CHECK_THAT(r.out, !Catch::Contains("older than") && !Catch::Contains(" AGE "));
}

}  // namespace
}  // namespace cachewarden::testing
