#include "base/text.h"

#include <catch2/catch.hpp>

namespace cachewarden {
namespace {

TEST_CASE("a path has one spelling: no doubled, trailing or dot components", "[text][path]") {
  CHECK(NormalizePath("/") == "/");
  CHECK(NormalizePath("//") == "/");
  CHECK(NormalizePath("/tmp/earthly/") == "/tmp/earthly");
  CHECK(NormalizePath("//tmp//earthly//") == "/tmp/earthly");
  CHECK(NormalizePath("/tmp/./earthly/.") == "/tmp/earthly");
  // ".." is not resolved: behind a symlink it is not the lexical parent.
  CHECK(NormalizePath("/a/../b") == "/a/../b");
  CHECK(NormalizePath("a//b/") == "a/b");
  CHECK(NormalizePath("") == "");
}

TEST_CASE("joining paths never doubles a slash, also under the root directory", "[text][path]") {
  CHECK(JoinPath("/", "dind") == "/dind");
  CHECK(JoinPath("/tmp/earthly", "dind") == "/tmp/earthly/dind");
  CHECK(JoinPath("/tmp/earthly/", "/dind") == "/tmp/earthly/dind");
  CHECK(JoinPath("/tmp", "") == "/tmp");
}

TEST_CASE("edit distance counts insertions, deletions and substitutions", "[text]") {
  CHECK(EditDistance("", "") == 0);
  CHECK(EditDistance("abc", "") == 3);
  CHECK(EditDistance("", "ab") == 2);
  CHECK(EditDistance("intervl", "interval") == 1);
  CHECK(EditDistance("kitten", "sitting") == 3);
  CHECK(EditDistance("CACHE_SIZE_MB", "CACHE_SIZE_PCT") == 3);
}

}  // namespace
}  // namespace cachewarden
