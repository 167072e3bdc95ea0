#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cachewarden {

// The sockets of a /proc/<pid>/net/tcp or tcp6 text (the kernel's table of one network namespace),
// parsed without touching the machine: for the exposure probe's bind check, and fuzzed
// (tests/fuzz/proc_net_tcp_fuzz.cc). Pure; never throws; lines that do not parse (the header, a
// truncated read) are skipped.

// Where a socket is bound, as far as who can reach it goes.
enum class BindScope {
  kAllInterfaces,  // 0.0.0.0, :: or ::ffff:0.0.0.0: every interface of the namespace
  kLoopback,       // 127.0.0.0/8, ::1 or ::ffff:127.x.x.x: this namespace only
  kSpecific,       // one other address
};

struct TcpSocket {
  std::string address;  // the local address as text: "0.0.0.0", "::", "::1", "::ffff:127.0.0.1"
  std::uint16_t port = 0;
  int state = 0;  // the kernel's TCP state: 0x0A is LISTEN
  bool ipv6 = false;
  BindScope scope = BindScope::kSpecific;
};

inline constexpr int kTcpListen = 0x0A;

// Every socket of `text`. The kernel prints each 32-bit word of an address in host byte order, so
// a text is decoded as on the machine that wrote it (fixtures come from little-endian hosts).
std::vector<TcpSocket> ParseProcNetTcp(std::string_view text);

}  // namespace cachewarden
