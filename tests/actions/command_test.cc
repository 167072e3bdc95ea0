#include "actions/command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "tests/support/process.h"

namespace cachewarden {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::WaitUntil;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Gone, or a zombie nobody has reaped yet (in a container, pid 1 may never reap it): either way
// it runs no more.
bool ProcessEnded(pid_t pid) {
  std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

TEST_CASE("command exiting at once is reaped at once though a child of it holds the pipe",
          "[command]") {
  // The sleeper keeps the output pipe open for 30 s: only the command's exit can end the wait.
  auto t0 = std::chrono::steady_clock::now();
  CommandOutcome c = RunCommandAction({"sh", "-c", "sleep 30 & echo $!"}, seconds(60), nullptr);
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(c.started);
  CHECK(c.exit_code == 0);
  CHECK_FALSE(c.timed_out);
  CHECK(took < seconds(20));
  auto lines = Lines(c.output);
  REQUIRE(lines.size() == 1);
  ::kill(std::stoi(lines[0]), SIGKILL);
}

// Times the calling thread gave up the CPU (blocked in a system call) so far.
long VoluntarySwitches() {
  struct rusage u {};
  ::getrusage(RUSAGE_THREAD, &u);
  return u.ru_nvcsw;
}

TEST_CASE("command wait sleeps until the command exits instead of polling", "[command]") {
  // A silent 1 s command: the caller blocks while posix_spawn execs it, then in poll until the
  // exit (the pipe's end may wake it separately). A loop that looked every 50 ms blocked 20 times.
  long before = VoluntarySwitches();
  CommandOutcome c = RunCommandAction({"sleep", "1"}, seconds(60), nullptr);
  long blocked = VoluntarySwitches() - before;
  CHECK(c.exit_code == 0);
  CHECK(blocked < 10);
}

TEST_CASE("command timeout kills the whole group, a member that ignores SIGTERM too", "[command]") {
  // The subshell ignores SIGTERM and execs a sleep that inherits that; the command itself is a
  // sleep that SIGTERM ends.
  auto t0 = std::chrono::steady_clock::now();
  CommandOutcome c =
      RunCommandAction({"sh", "-c", "(trap '' TERM; exec sleep 300) & echo $!; exec sleep 300"},
                       seconds(1), nullptr);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(c.timed_out);
  CHECK_FALSE(c.cancelled);
  CHECK(c.exit_code == 128 + SIGTERM);
  CHECK(took < seconds(5));  // SIGTERM sufficed for the command: no wait for the SIGKILL grace
  auto lines = Lines(c.output);
  REQUIRE(lines.size() == 1);
  pid_t straggler = std::stoi(lines[0]);
  bool ended = WaitUntil([&] { return ProcessEnded(straggler); });
  if (!ended) ::kill(straggler, SIGKILL);
  CHECK(ended);
}

TEST_CASE("command cancel stops the running command's group", "[command]") {
  testing::TempDir dir;
  std::string started = dir / "started";
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    WaitUntil([&] { return std::filesystem::exists(started); });
    cancel = true;
  });
  auto t0 = std::chrono::steady_clock::now();
  CommandOutcome c = RunCommandAction({"sh", "-c", "touch " + started + "; exec sleep 300"},
                                      seconds(300), &cancel);
  auto took = std::chrono::steady_clock::now() - t0;
  canceller.join();
  CHECK(c.cancelled);
  CHECK_FALSE(c.timed_out);
  CHECK(c.exit_code == 128 + SIGTERM);
  CHECK(took < seconds(60));
}

TEST_CASE("command runs with stdin from /dev/null, fds 0-2 only, in a group of its own",
          "[command]") {
  int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: closefrom must drop it
  REQUIRE(leaked > 2);
  CommandOutcome c = RunCommandAction(
      {"sh", "-c", "ls /proc/$$/fd; readlink /proc/$$/fd/0; cut -d' ' -f5 /proc/$$/stat; echo $$"},
      seconds(10), nullptr);
  ::close(leaked);
  INFO(c.output);
  auto lines = Lines(c.output);
  REQUIRE(lines.size() == 6);
  CHECK(lines[0] == "0");
  CHECK(lines[1] == "1");
  CHECK(lines[2] == "2");
  CHECK(lines[3] == "/dev/null");
  CHECK(lines[4] == lines[5]);  // its process group is its own pid
}

TEST_CASE("command starts with default signal dispositions and none blocked", "[command]") {
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGUSR1, &ignore, &old) == 0);
  sigset_t usr2, old_mask;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &usr2, &old_mask) == 0);
  CommandOutcome c =
      RunCommandAction({"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"}, seconds(10), nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGUSR1, &old, nullptr);
  INFO(c.output);
  auto lines = Lines(c.output);
  REQUIRE(lines.size() == 2);
  REQUIRE(lines[0].rfind("SigBlk:\t", 0) == 0);
  REQUIRE(lines[1].rfind("SigIgn:\t", 0) == 0);
  CHECK(std::stoull(lines[0].substr(8), nullptr, 16) == 0);
  // Bit n-1 is signal n. glibc's posix_spawn leaves its own two signals, 32 and 33, ignored (a
  // sigfillset set cannot name them); glibc and Go programs install their handlers regardless.
  std::uint64_t ignored = std::stoull(lines[1].substr(8), nullptr, 16);
  CHECK((ignored & ~std::uint64_t{0x180000000}) == 0);
}

TEST_CASE("command output is kept to 8 KiB and a command writing more is not blocked",
          "[command]") {
  CommandOutcome c = RunCommandAction({"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"},
                                      seconds(60), nullptr);
  CHECK(c.exit_code == 0);
  CHECK_FALSE(c.timed_out);
  CHECK(c.output == std::string(8192, 'x'));
}

TEST_CASE("command that cannot be executed does not start and says why", "[command]") {
  testing::TempDir dir;
  std::string not_executable = dir / "script";
  testing::WriteFile(not_executable, "#!/bin/sh\nexit 0\n");
  CommandOutcome c = RunCommandAction({not_executable}, seconds(10), nullptr);
  CHECK_FALSE(c.started);
  CHECK_THAT(c.error, Catch::Contains("Permission denied"));
}

}  // namespace
}  // namespace cachewarden
