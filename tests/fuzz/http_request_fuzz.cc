// libFuzzer target: the endpoint's request head parser, fed as the server feeds it (the bytes of
// a connection so far, every prefix too), and the base64 of basic auth. A head that parses has a
// method of capital letters and a path from '/'; the limits hold whatever comes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/http_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cachewarden;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  int last = 0;
  for (std::size_t n : {size / 3, size / 2, size}) {
    HttpRequestHead head;
    int code = ParseRequestHead(text.substr(0, n), &head);
    if (code != 0 && code != 200 && code != 400 && code != 431) std::abort();
    if (code == 200 && (head.method.empty() || head.path.empty() || head.path[0] != '/')) {
      std::abort();
    }
    // Once the head is complete or refused, more bytes never change the outcome's kind back to
    // "incomplete".
    if (last != 0 && code == 0) std::abort();
    last = code;
  }
  if (size > kMaxRequestHeadBytes &&
      text.substr(0, kMaxRequestHeadBytes + 4).find("\r\n\r\n") == std::string_view::npos) {
    HttpRequestHead head;
    if (ParseRequestHead(text, &head) != 431) std::abort();
  }
  if (auto decoded = Base64Decode(text)) {
    if (decoded->size() > size) std::abort();
  }
  return 0;
}
