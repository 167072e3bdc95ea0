#include "agent/http_request.h"

#include <algorithm>

namespace cachewarden {
namespace {

// Parses a complete request head (ending in an empty line). Returns 0, or the status to refuse
// it with.
int ParseCompleteHead(std::string_view head, HttpRequestHead& r) {
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return 400;
  r.method = std::string(line.substr(0, sp1));
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!version.starts_with("HTTP/1.") || r.method.empty() || target.empty()) return 400;
  for (char c : r.method) {
    if (c < 'A' || c > 'Z') return 400;
  }
  // The absolute form ("http://host/path") proxies send is accepted too.
  if (target.starts_with("http://") || target.starts_with("https://")) {
    auto slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  if (target[0] != '/') return 400;
  r.path = std::string(target.substr(0, target.find('?')));
  std::size_t pos = eol + 2;
  while (pos < head.size()) {
    auto end = head.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) break;
    std::string_view h = head.substr(pos, end - pos);
    pos = end + 2;
    auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return 400;
    std::string name = AsciiLower(h.substr(0, colon));
    std::string_view value = h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "accept-encoding") r.accept_encoding = std::string(value);
    if (name == "authorization") r.authorization = std::string(value);
  }
  return 0;
}

}  // namespace

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      pad++;
      continue;
    } else {
      return std::nullopt;
    }
    if (pad > 0) return std::nullopt;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  if (pad > 2) return std::nullopt;
  return out;
}

int ParseRequestHead(std::string_view received, HttpRequestHead* out) {
  auto end = received.find("\r\n\r\n");
  if (end == std::string_view::npos) return received.size() > kMaxRequestHeadBytes ? 431 : 0;
  if (end + 4 > kMaxRequestHeadBytes) return 431;
  std::string_view head = received.substr(0, end + 2);  // each line with its CRLF
  auto lines = std::count(head.begin(), head.end(), '\n');
  if (lines > kMaxRequestHeaderLines + 1) return 431;  // the request line, then the headers
  HttpRequestHead r;
  if (int code = ParseCompleteHead(head, r); code != 0) return code;
  *out = std::move(r);
  return 200;
}

}  // namespace cachewarden
