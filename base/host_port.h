#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cachewarden {

// One "host:port" as every address here is written: `127.0.0.1:8372`, `[::1]:8372`, `:6060`.
struct HostPort {
  std::string_view host;  // without the brackets; empty for ":6060"
  int port = 0;
  bool bracketed = false;  // written as [host]: an IPv6 address
};

// Splits `text` at the port's ':' and checks the port is digits only, from `min_port` to 65535.
// An IPv6 host must be in brackets with the port right after `]`. nullopt with the reason in *why
// otherwise (the caller names the key and the text; `why` may be null).
std::optional<HostPort> SplitHostPort(std::string_view text, int min_port,
                                      std::string* why = nullptr);

}  // namespace cachewarden
