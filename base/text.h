#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cachewarden {

// `text` cut to at most `max_bytes` on a character boundary, with invalid UTF-8 replaced by U+FFFD,
// so that it can go into JSON.
std::string SanitizeUtf8(std::string_view text, std::size_t max_bytes);

// Levenshtein distance (insertions, deletions, substitutions) between `a` and `b`: the "did you
// mean" of config keys and of buildkitd's environment. O(|a|·|b|) time, O(|b|) memory.
std::size_t EditDistance(std::string_view a, std::string_view b);

// True if `path` is `prefix` or lies under it, by whole components ("/a/b" is under "/a", "/ab" is
// not; everything is under "/").
bool PathIsUnder(std::string_view path, std::string_view prefix);

// `path` with repeated slashes collapsed and "." components and a trailing slash dropped: "/" stays
// "/", "//a/./b/" becomes "/a/b", "" stays "". Lexical only: ".." is kept as it is (with symlinks
// it is not the lexical parent), and nothing is resolved. The one spelling of a configured path
// that other paths are built from and compared with.
std::string NormalizePath(std::string_view path);

// `dir` + "/" + `rest` without a doubled slash: JoinPath("/", "dind") is "/dind", JoinPath("/a",
// "b/c") is "/a/b/c"; an empty `rest` gives `dir`.
std::string JoinPath(std::string_view dir, std::string_view rest);

}  // namespace cachewarden
