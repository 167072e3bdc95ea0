#include "policies/gc_run.h"

#include <csignal>

#include <catch2/catch.hpp>

#include "policies/command_action.h"
#include "tests/policies/gc_tree.h"
#include "tests/support/mounts.h"

namespace cachewarden {
namespace {

using namespace cachewarden::testing;

constexpr int kDay = 86400;

struct Cache {
  TempDir tmp;
  std::string root = tmp / "root";
  std::string outside = tmp / "outside";
  GcRunOptions options;
  Cache() {
    MakeDirs(root + "/dind");
    MakeDirs(outside + "/d");
    Touch(outside + "/d/precious", "precious");
    options.root = root;
  }
  std::string Entry(const std::string& name, int age_seconds) {
    std::string e = root + "/dind/" + name;
    MakeDirs(e + "/sub");
    Touch(e + "/sub/file", std::string(10000, 'x'));
    AgeTree(e, age_seconds);
    return e;
  }
};

GcPolicy Always(std::string path = "dind") {
  GcPolicy p;
  p.name = "t";
  p.path = std::move(path);
  p.min_age = Duration(0);
  p.triggers.always = true;
  return p;
}

std::set<std::string> Deleted(const GcRunResult& r) {
  std::set<std::string> out;
  for (const auto& d : r.done) {
    if (d.reap.result == ReapResult::kDeleted) out.insert(d.name);
  }
  return out;
}

std::set<std::string> Planned(const GcPlan& plan) {
  std::set<std::string> out;
  for (const auto& i : plan.items) {
    if (i.decision == GcDecision::kDelete) out.insert(i.entry.name);
  }
  return out;
}

TEST_CASE("gc refuses a policy directory that is a symlink", "[gc][run]") {
  Cache c;
  std::filesystem::remove_all(c.root + "/dind");
  std::filesystem::create_directory_symlink(c.outside, c.root + "/dind");
  MakeDirs(c.root + "/real/x");
  std::filesystem::create_directory_symlink(c.outside, c.root + "/via");
  auto before = TreeDigest(c.tmp.path());
  for (const char* path : {"dind", "via/d", "real/x/../../via"}) {
    INFO(path);
    GcRunResult r = RunGcPolicy(Always(path), nullptr, c.options);
    CHECK(r.result == "failed");
    CHECK(r.done.empty());
  }
  CHECK(RunGcPolicy(Always("dind"), nullptr, c.options).status.reason() == "symlink");
  CHECK(TreeDigest(c.tmp.path()) == before);
}

TEST_CASE("gc deletes old per-build dind entries and keeps the rest", "[gc][run]") {
  Cache c;
  c.Entry("build-old", 2 * kDay);
  c.Entry("build-older", 3 * kDay);
  c.Entry("build-young", 3600);
  c.Entry("cache_keep", 9 * kDay);
  std::filesystem::create_directory_symlink(c.outside, c.root + "/dind/link-out");
  std::set<std::string> chosen = {c.root + "/dind/build-old", c.root + "/dind/build-older"};
  auto before = TreeDigest(c.tmp.path(), chosen);
  GcPolicy p = DefaultDindPolicy();
  p.skip_open = false;
  c.options.dry_run = true;
  GcRunResult plan = RunGcPolicy(p, nullptr, c.options);
  CHECK(plan.result == "dry_run");
  CHECK(Planned(plan.plan) == std::set<std::string>{"build-old", "build-older"});
  CHECK(TreeDigest(c.tmp.path()).size() > before.size());  // nothing deleted yet
  c.options.dry_run = false;
  GcRunResult r = RunGcPolicy(p, nullptr, c.options);
  CHECK(r.result == "freed");
  CHECK(Deleted(r) == Planned(plan.plan));
  CHECK(r.deleted_entries == 2);
  CHECK(r.freed_bytes > 0);
  CHECK(r.skipped[SkipReason::kYoung] == 2);  // build-young and the fresh symlink
  CHECK(r.skipped[SkipReason::kExcluded] == 1);
  CHECK(TreeDigest(c.tmp.path(), chosen) == before);
  CHECK(ReadFile(c.outside + "/d/precious") == "precious");
}

TEST_CASE("gc skips an entry with a tmpfs inside, or detaches it when asked", "[gc][run][mount]") {
  CW_REQUIRE_ROOT();
  Cache c;
  std::string e = c.Entry("build-mounted", 2 * kDay);
  MakeDirs(e + "/m");
  REQUIRE(MountTmpfs(e + "/m", "4m") == "");
  Touch(e + "/m/inside", "tmpfs");
  auto before = TreeDigest(c.tmp.path());
  GcRunResult r = RunGcPolicy(Always(), nullptr, c.options);
  // freed_nothing unless something else on this disk freed space meanwhile.
  CHECK((r.result == "freed_nothing" || r.result == "freed"));
  CHECK(r.skipped[SkipReason::kMount] == 1);
  CHECK(TreeDigest(c.tmp.path()) == before);

  GcPolicy p = Always();
  p.unmount_stale = true;
  r = RunGcPolicy(p, nullptr, c.options);
  CHECK(r.result == "freed");
  CHECK_FALSE(Exists(e));
  CHECK(ReadFile("/proc/self/mountinfo").find(e) == std::string::npos);
  CHECK(TreeDigest(c.tmp.path(), {e}) == TreeDigest(c.tmp.path()));
}

TEST_CASE("gc skips entries held open by a process", "[gc][run]") {
  Cache c;
  std::string e = c.Entry("build-open", 2 * kDay);
  int fd = ::open((e + "/sub/file").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  GcPolicy p = Always();
  p.skip_open = true;
  GcRunResult r = RunGcPolicy(p, nullptr, c.options);
  CHECK(r.skipped[SkipReason::kOpen] == 1);
  CHECK(Exists(e));
  ::close(fd);
  CHECK(RunGcPolicy(p, nullptr, c.options).result == "freed");
  CHECK_FALSE(Exists(e));
}

TEST_CASE("gc command action runs argv without a shell, records the exit code", "[gc][command]") {
  CommandOutcome ok = RunCommandAction({"env"}, std::chrono::seconds(10), nullptr);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output == std::string("PATH=") + kCommandPath + "\nLANG=C.UTF-8\nHOME=/\n");
  CommandOutcome no_shell =
      RunCommandAction({"echo", "$HOME; rm -rf /"}, std::chrono::seconds(10), nullptr);
  CHECK(no_shell.output == "$HOME; rm -rf /\n");
  CHECK(RunCommandAction({"false"}, std::chrono::seconds(10), nullptr).exit_code == 1);
  CommandOutcome missing = RunCommandAction({"no-such-tool-xyz"}, std::chrono::seconds(1), nullptr);
  CHECK_FALSE(missing.started);
  CommandOutcome slow = RunCommandAction({"sleep", "30"}, std::chrono::seconds(1), nullptr);
  CHECK(slow.timed_out);
  CHECK(slow.exit_code == 128 + SIGTERM);

  Cache c;
  GcPolicy p;
  p.name = "prune";
  p.action = GcAction::kCommand;
  p.command = {"sh", "-c", "exit 3"};
  p.triggers.always = true;
  GcRunResult r = RunGcPolicy(p, nullptr, c.options);
  CHECK(r.result == "failed");
  CHECK(r.command_exit_code == 3);
  p.command = {"true"};
  r = RunGcPolicy(p, nullptr, c.options);
  CHECK(r.command_exit_code == 0);
  // freed_nothing unless something else on this disk freed space meanwhile.
  CHECK((r.result == "freed_nothing" || r.result == "freed"));
}

}  // namespace
}  // namespace cachewarden
