#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cachewarden {

// The HTTP/1.x request head parser of the endpoint (agent/http_server), strict and bounded: fed
// the bytes received so far, never more than kMaxRequestHeadBytes of them are looked at. Pure
// functions, thread-safe; fuzzed (tests/fuzz/http_request_fuzz.cc).

inline constexpr std::size_t kMaxRequestHeadBytes = 8 * 1024;  // request line and headers
inline constexpr int kMaxRequestHeaderLines = 64;

struct HttpRequestHead {
  std::string method;  // upper-case letters only
  std::string path;    // from '/', without its query string (an absolute URI's path too)
  std::string accept_encoding, authorization;  // header values, "" when absent
};

// Looks at `received` (the bytes of a connection so far). Returns 0 while the head is incomplete
// and within the limits; 200 with `*out` set once it is complete; 431 when it is past
// kMaxRequestHeadBytes or kMaxRequestHeaderLines; 400 when it is not an HTTP/1.x request head.
// Bytes after the head (a body, a pipelined request) are ignored.
int ParseRequestHead(std::string_view received, HttpRequestHead* out);

// Standard base64 (with or without padding); nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view in);

std::string AsciiLower(std::string_view s);

}  // namespace cachewarden
