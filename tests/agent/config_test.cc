#include "agent/config.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "tests/support/config_errors.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

Config Load(const std::string& text) { return LoadConfigText(text, "test.json", {}); }

// The message of the ConfigError that loading `text` throws ("" if none).
std::string ErrorOf(const std::string& text) {
  return testing::ConfigErrorOf([&] { Load(text); });
}

TEST_CASE("an empty config gives the built-in defaults", "[config]") {
  Config c = Load("{}");
  CHECK(c.listen == ":9479");
  CHECK(c.root == DefaultRoot());
  const ProbeSpec* volume = c.FindProbe("volume");
  REQUIRE(volume != nullptr);
  CHECK(volume->enabled);
  CHECK(volume->interval == std::chrono::seconds(15));
  CHECK(c.effective["probes"]["volume"]["interval"] == "15s");
}

TEST_CASE("a good config sets what it names and keeps the other defaults", "[config]") {
  Config c = Load(R"({"root": "/var/cache/bk", "listen": "127.0.0.1:0",
                      "log": {"level": "debug", "format": "text"},
                      "probes": {"volume": {"interval": "500ms", "timeout": "250ms"}}})");
  CHECK(c.root == "/var/cache/bk");
  CHECK(c.listen == "127.0.0.1:0");
  CHECK(c.log_level == LogLevel::kDebug);
  CHECK(c.log_format == LogFormat::kText);
  CHECK(c.FindProbe("volume")->interval == std::chrono::milliseconds(500));
  CHECK(c.FindProbe("volume")->timeout == std::chrono::milliseconds(250));
}

TEST_CASE("flags override the file", "[config]") {
  ConfigOverrides o;
  o.root = "/elsewhere";
  o.listen = "127.0.0.1:1234";
  Config c = LoadConfigText(R"({"root": "/var/cache/bk", "listen": ":1"})", "t", o);
  CHECK(c.root == "/elsewhere");
  CHECK(c.listen == "127.0.0.1:1234");
  CHECK(c.effective["root"] == "/elsewhere");
}

TEST_CASE("a syntax error names the line and column", "[config]") {
  std::string e = ErrorOf("{\n  \"root\": \"/x\",,\n}");
  CHECK_THAT(e, Catch::Contains("test.json:2:16"));
  CHECK_THAT(e, Catch::Contains("invalid JSON"));
}

TEST_CASE("an unknown key names its path and the closest known key", "[config]") {
  CHECK(ErrorOf(R"({"probes": {"volume": {"intervall": "5s"}}})") ==
        "/probes/volume/intervall: unknown key; did you mean \"interval\"?");
  CHECK_THAT(ErrorOf(R"({"rot": "/x"})"),
             Catch::StartsWith("/rot: unknown key; did you mean \"root\"?"));
  CHECK_THAT(ErrorOf(R"({"probes": {"volumes": {}}})"),
             Catch::StartsWith("/probes/volumes: unknown key; did you mean \"volume\"?"));
  CHECK_THAT(ErrorOf(R"({"zzzzzzzz": 1})"),
             Catch::StartsWith("/zzzzzzzz: unknown key; known keys here:"));
}

TEST_CASE("a wrong type names the path and what was expected", "[config]") {
  CHECK_THAT(ErrorOf(R"({"probes": {"volume": {"enabled": "yes"}}})"),
             Catch::StartsWith("/probes/volume/enabled: expected true or false, got string"));
  CHECK_THAT(ErrorOf(R"({"root": 5})"), Catch::StartsWith("/root: expected a string, got number"));
  CHECK_THAT(ErrorOf(R"({"probes": {"volume": {"interval": 5}}})"),
             Catch::StartsWith("/probes/volume/interval: expected a duration string"));
  CHECK_THAT(ErrorOf(R"({"probes": []})"),
             Catch::StartsWith("/probes: expected an object, got array"));
  CHECK_THAT(ErrorOf(R"([1])"), Catch::StartsWith("/: expected an object, got array"));
}

TEST_CASE("an out-of-range or malformed value names the path", "[config]") {
  CHECK_THAT(ErrorOf(R"({"probes": {"volume": {"interval": "1ms"}}})"),
             Catch::StartsWith(
                 "/probes/volume/interval: expected a duration string from \"100ms\" to \"7d\"") &&
                 Catch::Contains("out of range"));
  CHECK_THAT(ErrorOf(R"({"probes": {"volume": {"interval": "5 minutes"}}})"),
             Catch::StartsWith("/probes/volume/interval:") && Catch::Contains("\"5 minutes\""));
  CHECK_THAT(
      ErrorOf(R"({"log": {"level": "loud"}})"),
      Catch::StartsWith(
          "/log/level: expected one of \"debug\", \"info\", \"warn\", \"error\", got \"loud\""));
  CHECK_THAT(ErrorOf(R"({"root": "relative/path"})"),
             Catch::StartsWith("/root: expected an absolute path"));
  CHECK_THAT(ErrorOf(R"({"listen": "9479"})"), Catch::StartsWith("/listen: expected host:port"));
}

TEST_CASE("a bad address, path or duration names its key", "[config]") {
  for (const char* listen : {"999.1.1.1:99999", "127.0.0.1:99999", "999.1.1.1:80", ":", ":-1",
                             "[::1:80", "[zz]:80", "host name:80"}) {
    INFO(listen);
    CHECK_THAT(ErrorOf(fmt::format(R"({{"listen": "{}"}})", listen)),
               Catch::StartsWith("/listen: expected host:port"));
  }
  for (const char* listen : {":0", ":9479", "127.0.0.1:0", "0.0.0.0:65535", "[::1]:9479"}) {
    INFO(listen);
    CHECK(Load(fmt::format(R"({{"listen": "{}"}})", listen)).listen == listen);
  }
  CHECK_THAT(ErrorOf(R"({"proc_root": "proc"})"),
             Catch::StartsWith("/proc_root: expected an absolute path"));
  CHECK_THAT(ErrorOf(R"({"sys_root": ""})"),
             Catch::StartsWith("/sys_root: expected an absolute path"));
  CHECK(ErrorOf(R"({"root": "/tmp/a\u0000b"})") ==
        "/root: expected a path, got one with a NUL byte");
  CHECK_THAT(ErrorOf(R"({"probes": {"volume": {"interval": "1s1s1s"}}})"),
             Catch::StartsWith("/probes/volume/interval: expected a duration") &&
                 Catch::Contains("\"1s1s1s\""));
}

TEST_CASE("a duplicate key or an overflowing number is a config error", "[config]") {
  CHECK(ErrorOf(R"({"gc": {"policies": []}, "gc": {}})") == "/gc: duplicate key");
  CHECK_THAT(
      ErrorOf(R"({"probes": {"volume": {"interval": 1e400}}})"),
      Catch::StartsWith("/probes/volume/interval: test.json: invalid JSON: number overflow"));
  CHECK_THAT(ErrorOf(std::string(100000, '[')), Catch::Contains("nesting deeper than 64 levels"));
}

TEST_CASE("min_age accepts its documented maximum of 36500d", "[config]") {
  Config c = Load(R"({"gc": {"policies": [{"name": "p", "path": "dind", "min_age": "36500d",
                                           "triggers": {"older_than": "1d"}}]}})");
  REQUIRE(c.gc.policies.size() == 1);
  CHECK(c.gc.policies[0].min_age == std::chrono::hours(24 * 36500));
  CHECK_THAT(ErrorOf(R"({"gc": {"policies": [{"name": "p", "path": "dind", "min_age": "36501d",
                                              "triggers": {"older_than": "1d"}}]}})"),
             Catch::StartsWith("/gc/policies/0/min_age:") && Catch::Contains("out of range"));
}

TEST_CASE("a bad size names the path and the accepted forms", "[config]") {
  nlohmann::json doc = nlohmann::json::parse(R"({"cap": "50 GB", "ok": "80%", "bytes": "1GiB"})");
  nlohmann::json effective;
  ConfigReader r(&doc, "/x", &effective);
  CHECK(r.Size("ok", SizeSpec::Bytes(0)).percent);
  CHECK(r.Size("bytes", SizeSpec::Bytes(0)).value == 1073741824.0);
  CHECK_THROWS_WITH(r.Size("cap", SizeSpec::Bytes(0)),
                    Catch::StartsWith("/x/cap: expected a size string like \"512MiB\"") &&
                        Catch::Contains("\"50 GB\""));
}

TEST_CASE("the example config is valid and names every key", "[config]") {
  std::string path = testing::SourceDir() + "/deploy/config.example.json";
  std::string text = testing::ReadFile(path);
  REQUIRE_FALSE(text.empty());
  Config example = LoadConfigText(text, path, {});
  Config defaults = Load("{}");
  // Every key the defaults have (recursively, objects only) is spelled out in the example, so the
  // example is complete.
  std::function<void(const nlohmann::json&, const nlohmann::json&, const std::string&)> walk =
      [&](const nlohmann::json& d, const nlohmann::json& e, const std::string& at) {
        for (const auto& [k, v] : d.items()) {
          INFO("key " << at << "/" << k);
          REQUIRE(e.contains(k));
          if (v.is_object()) walk(v, e[k], at + "/" + k);
        }
      };
  nlohmann::json raw = nlohmann::json::parse(text);
  walk(defaults.effective, raw, "");
}

}  // namespace
}  // namespace cachewarden
