#include "base/host_port.h"

#include <charconv>

namespace cachewarden {

std::optional<HostPort> SplitHostPort(std::string_view text, int min_port, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<HostPort> {
    if (why != nullptr) *why = std::move(reason);
    return std::nullopt;
  };
  HostPort out;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      return fail("an IPv6 address needs [brackets] and a port after them");
    }
    out.host = text.substr(1, close - 1);
    out.bracketed = true;
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("no port");
    out.host = text.substr(0, colon);
    if (out.host.find(':') != std::string_view::npos) {
      return fail("an IPv6 address needs [brackets]");
    }
    port = text.substr(colon + 1);
  }
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || port.front() == '-' || ec != std::errc() ||
      end != port.data() + port.size() || out.port < min_port || out.port > 65535) {
    return fail("the port must be " + std::to_string(min_port) + "..65535");
  }
  return out;
}

}  // namespace cachewarden
