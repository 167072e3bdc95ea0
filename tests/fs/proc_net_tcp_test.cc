#include "fs/proc_net_tcp.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tests/support/process.h"
#include "tests/support/skip.h"

namespace cachewarden {
namespace {

using testing::ReadFile;
using testing::SourceDir;

const TcpSocket* Find(const std::vector<TcpSocket>& all, std::uint16_t port) {
  for (const auto& s : all) {
    if (s.port == port && s.state == kTcpListen) return &s;
  }
  return nullptr;
}

TEST_CASE("tcp lines give each socket's address, port, state and bind scope", "[fs][proc_net]") {
  const auto all = ParseProcNetTcp(ReadFile(SourceDir() + "/tests/fixtures/proc_net_tcp/tcp"));
  REQUIRE(all.size() == 4);  // the header is skipped
  CHECK(all[0].address == "0.0.0.0");
  CHECK(all[0].port == 8372);
  CHECK(all[0].state == kTcpListen);
  CHECK(all[0].scope == BindScope::kAllInterfaces);
  CHECK_FALSE(all[0].ipv6);
  CHECK(all[1].address == "127.0.0.1");
  CHECK(all[1].port == 6060);
  CHECK(all[1].scope == BindScope::kLoopback);
  CHECK(all[2].address == "15.2.0.10");
  CHECK(all[2].scope == BindScope::kSpecific);
  CHECK(all[3].state == 0x01);  // an established connection, not a listener
}

TEST_CASE("tcp6 lines decode ::, ::1 and IPv4-mapped addresses", "[fs][proc_net]") {
  const auto all = ParseProcNetTcp(ReadFile(SourceDir() + "/tests/fixtures/proc_net_tcp/tcp6"));
  REQUIRE(all.size() == 4);
  CHECK(all[0].address == "::");
  CHECK(all[0].ipv6);
  CHECK(all[0].scope == BindScope::kAllInterfaces);
  CHECK(all[1].address == "::1");
  CHECK(all[1].scope == BindScope::kLoopback);
  CHECK(all[2].address == "::ffff:127.0.0.1");
  CHECK(all[2].port == 8080);
  CHECK(all[2].scope == BindScope::kLoopback);
  CHECK(all[3].address == "::ffff:15.2.0.10");
  CHECK(all[3].scope == BindScope::kSpecific);
}

TEST_CASE("malformed /proc/net/tcp lines are skipped, not misread", "[fs][proc_net]") {
  CHECK(ParseProcNetTcp("").empty());
  CHECK(ParseProcNetTcp("   0: 0100007F:17AC").empty());                       // truncated
  CHECK(ParseProcNetTcp("   0: 0100007G:17AC 00000000:0000 0A\n").empty());    // not hex
  CHECK(ParseProcNetTcp("   0: 0100007F:117AC 00000000:0000 0A\n").empty());   // port too long
  CHECK(ParseProcNetTcp("   0: 00007F:17AC 00000000:0000 0A\n").empty());      // short address
  CHECK(ParseProcNetTcp("   0: 0100007F:17AC 00000000:0000 0AB\n").empty());   // bad state
  CHECK(ParseProcNetTcp("0100007F:17AC 00000000:0000 0A\n").empty());          // no slot
  CHECK(ParseProcNetTcp("   0: 0100007F:17AC 00000000:0000 0A").size() == 1);  // no newline
}

int Listen(const char* ip) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1) != 0) {
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// In a child of its own network namespace (so the host's sockets do not count): lo up, one
// listener on 0.0.0.0 and one on 127.0.0.1; their ports go up the pipe, then it waits for EOF.
[[noreturn]] void ListenInOwnNetns(int report, int hold) {
  int ports[2] = {-1, -1};
  if (unshare(CLONE_NEWNET) == 0) {
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    if (s >= 0 && ioctl(s, SIOCSIFFLAGS, &ifr) == 0) {
      ports[0] = Listen("0.0.0.0");
      ports[1] = Listen("127.0.0.1");
    }
  }
  if (write(report, ports, sizeof ports) != sizeof ports) _exit(1);
  char c;
  while (read(hold, &c, 1) > 0) {
  }
  _exit(0);
}

TEST_CASE(
    "a child's /proc/<pid>/net/tcp shows its 0.0.0.0 listener on all interfaces and its "
    "127.0.0.1 one loopback-only",
    "[fs][proc_net][root]") {
  if (geteuid() != 0) CW_SKIP("needs root for a network namespace");
  int report[2], hold[2];
  REQUIRE(pipe(report) == 0);
  REQUIRE(pipe(hold) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(report[0]);
    close(hold[1]);
    ListenInOwnNetns(report[1], hold[0]);
  }
  close(report[1]);
  close(hold[0]);
  int ports[2] = {-1, -1};
  const bool got = read(report[0], ports, sizeof ports) == sizeof ports;
  const std::string text = ReadFile("/proc/" + std::to_string(pid) + "/net/tcp");
  close(hold[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  close(report[0]);
  REQUIRE(got);
  REQUIRE(ports[0] > 0);
  REQUIRE(ports[1] > 0);
  const auto all = ParseProcNetTcp(text);
  INFO(text);
  // Only the child's two sockets: the namespace is its own.
  CHECK(all.size() == 2);
  const TcpSocket* any = Find(all, static_cast<std::uint16_t>(ports[0]));
  const TcpSocket* lo = Find(all, static_cast<std::uint16_t>(ports[1]));
  REQUIRE(any != nullptr);
  REQUIRE(lo != nullptr);
  CHECK(any->scope == BindScope::kAllInterfaces);
  CHECK(lo->scope == BindScope::kLoopback);
  CHECK(lo->address == "127.0.0.1");
}

}  // namespace
}  // namespace cachewarden
