#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cachewarden {

// `text` cut to at most `max_bytes` on a character boundary, with invalid UTF-8 replaced by U+FFFD,
// so that it can go into JSON.
std::string SanitizeUtf8(std::string_view text, std::size_t max_bytes);

// True if `path` is `prefix` or lies under it, by whole components ("/a/b" is under "/a", "/ab" is
// not; everything is under "/").
bool PathIsUnder(std::string_view path, std::string_view prefix);

}  // namespace cachewarden
