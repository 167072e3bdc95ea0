#include "fs/proc_net_tcp.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace cachewarden {
namespace {

bool ParseHex32(std::string_view hex, std::uint32_t* out) {
  if (hex.size() != 8) return false;
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), *out, 16);
  return ec == std::errc() && end == hex.data() + hex.size();
}

// "0100007F:1F90" or the tcp6 form with 32 hex digits: address bytes (4 or 16) and the port.
bool ParseEndpoint(std::string_view field, std::uint8_t* bytes, std::size_t* len,
                   std::uint16_t* port) {
  const auto colon = field.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view addr = field.substr(0, colon), port_hex = field.substr(colon + 1);
  if (addr.size() != 8 && addr.size() != 32) return false;
  *len = addr.size() / 2;
  for (std::size_t i = 0; i < addr.size(); i += 8) {
    std::uint32_t word = 0;
    if (!ParseHex32(addr.substr(i, 8), &word)) return false;
    std::memcpy(bytes + i / 2, &word, 4);  // host order, as the kernel printed it
  }
  if (port_hex.empty() || port_hex.size() > 4) return false;
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port_hex.data(), port_hex.data() + port_hex.size(), p, 16);
  if (ec != std::errc() || end != port_hex.data() + port_hex.size()) return false;
  *port = static_cast<std::uint16_t>(p);
  return true;
}

BindScope ScopeOf4(const std::uint8_t* a) {
  if (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) return BindScope::kAllInterfaces;
  if (a[0] == 127) return BindScope::kLoopback;
  return BindScope::kSpecific;
}

BindScope ScopeOf6(const std::uint8_t* a) {
  static constexpr std::uint8_t kZero[16] = {};
  static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a, kZero, 16) == 0) return BindScope::kAllInterfaces;
  if (std::memcmp(a, kZero, 15) == 0 && a[15] == 1) return BindScope::kLoopback;
  if (std::memcmp(a, kMappedPrefix, 12) == 0) return ScopeOf4(a + 12);
  return BindScope::kSpecific;
}

std::string_view NextField(std::string_view* rest) {
  const auto start = rest->find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    *rest = {};
    return {};
  }
  rest->remove_prefix(start);
  const auto end = rest->find_first_of(" \t");
  const std::string_view field = rest->substr(0, end);
  rest->remove_prefix(end == std::string_view::npos ? rest->size() : end);
  return field;
}

}  // namespace

std::vector<TcpSocket> ParseProcNetTcp(std::string_view text) {
  std::vector<TcpSocket> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    // "  sl  local_address rem_address   st ...": the slot ("0:"), local, remote, state.
    const std::string_view slot = NextField(&line);
    if (slot.size() < 2 || slot.back() != ':') continue;
    const std::string_view local = NextField(&line);
    const std::string_view remote = NextField(&line);
    const std::string_view state = NextField(&line);
    std::uint8_t bytes[16] = {};
    std::size_t len = 0;
    TcpSocket s;
    if (!ParseEndpoint(local, bytes, &len, &s.port) || remote.empty()) continue;
    unsigned st = 0;
    auto [end, ec] = std::from_chars(state.data(), state.data() + state.size(), st, 16);
    if (state.size() != 2 || ec != std::errc() || end != state.data() + state.size()) continue;
    s.state = static_cast<int>(st);
    s.ipv6 = len == 16;
    char buf[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(s.ipv6 ? AF_INET6 : AF_INET, bytes, buf, sizeof buf) == nullptr) continue;
    s.address = buf;
    s.scope = s.ipv6 ? ScopeOf6(bytes) : ScopeOf4(bytes);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace cachewarden
