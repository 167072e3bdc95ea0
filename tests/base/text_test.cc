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

}  // namespace
}  // namespace cachewarden
