// The real binary's one-shot commands: exit codes, output, atomic textfile.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "tests/support/agent.h"
#include "tests/support/mounts.h"

namespace cachewarden::testing {
namespace {

ProcessResult Cw(std::vector<std::string> args) {
  args.insert(args.begin(), BinaryPath());
  return RunProcess(args, {"CACHEWARDEN_CONFIG="});
}

// Fills the filesystem at `dir` with a file of `mib` MiB.
void Fill(const std::string& dir, int mib) {
  int fd = ::open((dir + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  std::string block(1 << 20, 'x');
  for (int i = 0; i < mib; ++i)
    REQUIRE(::write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size()));
  ::close(fd);
}

TEST_CASE("a wrong command or option exits 64 with one line and the usage", "[cli]") {
  auto r = Cw({"frobnicate"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.err, Catch::StartsWith("cachewarden: unknown command \"frobnicate\"\nusage:"));
  r = Cw({"check", "--bogus"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.err, Catch::StartsWith("cachewarden: check: unknown option --bogus\n"));
  r = Cw({"check", "--root"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.err, Catch::Contains("--root needs a value"));
  CHECK(Cw({}).exit_code == 64);
}

TEST_CASE("every command has --help", "[cli]") {
  for (const char* c : {"run", "check", "textfile", "config", "version"}) {
    auto r = Cw({c, "--help"});
    INFO(c);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::StartsWith(std::string("usage: cachewarden ") + c));
  }
  CHECK(Cw({"--help"}).exit_code == 0);
  CHECK_THAT(Cw({"version"}).out, Catch::StartsWith("cachewarden "));
}

TEST_CASE("a bad config exits 78 naming the problem", "[cli]") {
  TempDir dir;
  WriteFile(dir / "bad.json", R"({"probes": {"volume": {"intervall": "5s"}}})");
  auto r = Cw({"config", "check", dir / "bad.json"});
  CHECK(r.exit_code == 78);
  CHECK_THAT(r.err,
             Catch::Contains("/probes/volume/intervall: unknown key; did you mean \"interval\"?"));
  CHECK(Cw({"check", "--config", dir / "bad.json"}).exit_code == 78);
  CHECK(Cw({"run", "--config", dir / "bad.json"}).exit_code == 78);
  r = RunProcess({BinaryPath(), "config", "check"}, {"CACHEWARDEN_CONFIG=" + dir / "bad.json"});
  CHECK(r.exit_code == 78);
  CHECK(Cw({"config", "check", dir / "missing.json"}).exit_code == 78);
  WriteFile(dir / "good.json", R"({"root": "/tmp"})");
  CHECK(Cw({"config", "check", dir / "good.json"}).exit_code == 0);
}

TEST_CASE("config check refuses a hostile config with 78 and a message, never a crash", "[cli]") {
  TempDir dir;
  struct Case {
    std::string name, text, message;
  };
  const std::vector<Case> cases = {
      {"overflow.json", R"({"probes": {"volume": {"interval": 1e400}}})",
       "/probes/volume/interval: " + dir / "overflow.json" + ": invalid JSON: number overflow"},
      {"deep.json", std::string(100000, '[') + std::string(100000, ']'),
       "nesting deeper than 64 levels"},
      {"dup.json", R"({"gc": {"policies": []}, "gc": {"enabled": true}})", "/gc: duplicate key"},
      {"big.json", "{\"root\": \"/x\"" + std::string(2 << 20, ' ') + "}",
       "larger than 1048576 bytes"},
      {"listen.json", R"({"listen": "999.1.1.1:99999"})", "/listen: expected host:port"},
      {"duration.json", R"({"probes": {"volume": {"interval": "1s1s1s"}}})",
       "/probes/volume/interval: expected a duration"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    WriteFile(dir / c.name, c.text);
    auto r = Cw({"config", "check", dir / c.name});
    CHECK(r.exit_code == 78);
    CHECK_THAT(r.err, Catch::Contains(c.message));
  }
  // Not regular files: refused at once, neither read forever nor waited on.
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  for (std::string path : {std::string("/dev/zero"), dir / "fifo"}) {
    INFO(path);
    auto r = Cw({"config", "check", path});
    CHECK(r.exit_code == 78);
    CHECK_THAT(r.err, Catch::Contains(path + ": cannot read config file: not a regular file"));
  }
}

TEST_CASE("config print shows every default as JSON", "[cli]") {
  auto r = Cw({"config", "print", "--root", "/srv/cache"});
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["root"] == "/srv/cache");
  CHECK(j["probes"]["volume"]["interval"] == "15s");
  CHECK(j["listen"] == ":9479");
}

TEST_CASE("check exits 0 or 1 or 2 by how full the cache is and 3 when it cannot tell", "[cli]") {
  CW_REQUIRE_ROOT();
  TempDir dir;
  std::filesystem::create_directory(dir / "cache");
  REQUIRE(MountTmpfs(dir / "cache", "64m") == "");
  // Only the volume's fullness decides here: other probes' verdicts have their own tests.
  WriteFile(dir / "config.json", fmt::format(R"({{"root": "{}"}})", dir / "cache"));
  auto check = [&] { return Cw({"check", "--json", "--config", dir / "config.json"}); };
  // The disk-full alert's severity, "ok" when it does not fire.
  auto status_of = [](const ProcessResult& r) {
    auto j = nlohmann::json::parse(r.out);
    for (const auto& f : j["findings"]) {
      if (f["source"].get<std::string>().starts_with("CacheDiskAlmostFull")) {
        return f["severity"].get<std::string>();
      }
    }
    return std::string("ok");
  };
  auto r = check();
  CHECK(status_of(r) == "ok");
  Fill(dir / "cache", 56);  // 87.5%
  r = check();
  CHECK(status_of(r) == "warning");
  CHECK(r.exit_code >= 1);
  Fill(dir / "cache", 62);  // 96.9%
  r = check();
  CHECK(status_of(r) == "critical");
  CHECK(r.exit_code == 2);
  auto text = Cw({"check", "--config", dir / "config.json"});
  CHECK(text.exit_code == 2);
  CHECK_THAT(text.out, Catch::StartsWith("CACHEWARDEN CRITICAL - ") && Catch::Contains("fix:"));
  // The first line as a Monitoring Plugins parser reads it: the status word matching the exit
  // code, the text, then perfdata 'label'=value[UOM];warn;crit;min;max.
  const std::string first = text.out.substr(0, text.out.find('\n'));
  std::smatch m;
  REQUIRE(std::regex_match(
      first, m, std::regex(R"(CACHEWARDEN (OK|WARNING|CRITICAL|UNKNOWN) - ([^|]+) \| (.+))")));
  CHECK(m[1] == "CRITICAL");
  CHECK_THAT(m[2].str(), Catch::Contains("96.9%"));
  const std::string perf = m[3];
  const std::regex item(
      R"('([^'=]+)'=(-?[0-9.]+)(%|B|s|)?;(-?[0-9.]*);(-?[0-9.]*);(-?[0-9.]*);?(-?[0-9.]*)( |$))");
  std::map<std::string, std::vector<std::string>> items;
  std::size_t consumed = 0;
  for (std::sregex_iterator it(perf.begin(), perf.end(), item), end; it != end; ++it) {
    CHECK(static_cast<std::size_t>(it->position()) == consumed);  // nothing between the items
    consumed = static_cast<std::size_t>(it->position() + it->length());
    items[(*it)[1]] = {(*it)[2], (*it)[3], (*it)[4], (*it)[5], (*it)[6], (*it)[7]};
  }
  CHECK(consumed == perf.size());
  REQUIRE(items.contains("disk_used"));
  CHECK(std::abs(std::stod(items["disk_used"][0]) - 96.9) < 0.5);
  CHECK(items["disk_used"] ==
        std::vector<std::string>{items["disk_used"][0], "%", "85", "95", "0", "100"});
  CHECK(items["inodes_used"][1] == "%");
  CHECK(items["cache"][1] == "B");
  CHECK(std::stod(items["cache"][0]) >= 62.0 * (1 << 20));
  auto missing = Cw({"check", "--root", dir / "nope"});
  CHECK(missing.exit_code == 3);
  CHECK_THAT(missing.out, Catch::Contains("UNKNOWN") && Catch::Contains("does not exist"));
}

TEST_CASE("textfile never follows a symlink planted at a temporary name", "[cli]") {
  TempDir dir;
  const std::string out = dir / "cachewarden.prom";
  const std::string victim = dir / "victim";
  WriteFile(victim, "precious");
  // The old temporary name was <out>.tmp.<pid>: plant a link at it for every pid the child could
  // get soon (the next few thousand from the kernel's last one).
  int last = std::stoi(ReadFile("/proc/sys/kernel/ns_last_pid"));
  for (int pid = last + 1; pid <= last + 5000; ++pid) {
    REQUIRE(::symlink(victim.c_str(), fmt::format("{}.tmp.{}", out, pid).c_str()) == 0);
  }
  auto r = Cw({"textfile", "--out", out, "--root", dir.path()});
  REQUIRE(r.exit_code == 0);
  CHECK(ReadFile(victim) == "precious");
  struct stat st {};
  REQUIRE(::lstat(out.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK_THAT(ReadFile(out), Catch::Contains("cachewarden_probe_success"));
}

TEST_CASE("textfile writes metrics promtool accepts and replaces the file atomically", "[cli]") {
  TempDir dir;
  std::string out = dir / "cachewarden.prom";
  WriteFile(out, "old\n");
  // Held open, the original keeps its inode (no reuse) and its content shows whether the file was
  // replaced by rename or rewritten in place.
  int original = ::open(out.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(original >= 0);
  struct stat before {};
  REQUIRE(::fstat(original, &before) == 0);

  // A reader that keeps opening the file while it is rewritten must only ever see the old content
  // or a complete new one.
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread reader([&] {
    while (!stop) {
      std::string s = ReadFile(out);
      reads++;
      if (s != "old\n" && s.find("cachewarden_volume_files_free") == std::string::npos) torn++;
    }
  });
  for (int i = 0; i < 5; ++i) {
    auto r = Cw({"textfile", "--out", out, "--root", dir.path()});
    REQUIRE(r.exit_code == 0);
  }
  stop = true;
  reader.join();
  CHECK(torn == 0);
  CHECK(reads > 0);

  struct stat after {};
  REQUIRE(::stat(out.c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);  // replaced by rename, not rewritten
  char buf[16] = {};
  CHECK(::pread(original, buf, sizeof buf - 1, 0) == 4);
  CHECK(std::string(buf) == "old\n");
  ::close(original);
  std::string text = ReadFile(out);
  bool ok = false;
  std::string lint = PromtoolCheckMetrics(text, &ok);
  INFO(lint);
  CHECK(ok);
  CHECK(MetricValue(text, "cachewarden_probe_success{probe=\"volume\"}") == 1);
  CHECK(MetricValue(text, "cachewarden_build_info{version=\"0.1.0\",revision=\"" +
                              std::string(CACHEWARDEN_REVISION_FOR_TESTS) + "\"}") == 1);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    files++;
  }
  CHECK(files == 1);  // no temporary file left behind
  CHECK(Cw({"textfile"}).exit_code == 64);
  CHECK(Cw({"textfile", "--out", dir / "no/such/dir/x.prom"}).exit_code == 74);
}

}  // namespace
}  // namespace cachewarden::testing
