#include "fs/read_file.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <utility>

#include "tests/support/file_tree.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::MakeDirs;
using testing::TempDir;
using testing::WriteFile;

using ReadFn = std::function<Status(const std::string&, std::string_view, std::string*)>;

// A fake /proc/<pid>/root: root/etc/buildkitd.toml inside, and the agent's own "secret" beside
// root, which nothing read through root may reach.
struct FakeRoot {
  TempDir tmp;
  std::string root = tmp / "root";
  FakeRoot() {
    MakeDirs(root + "/etc/sub");
    WriteFile(root + "/etc/buildkitd.toml", "inside\n");
    WriteFile(tmp / "secret", "outside\n");
    WriteFile(tmp / "buildkitd.toml", "outside\n");
  }
  void Link(const std::string& target, const std::string& at) const {
    REQUIRE(::symlink(target.c_str(), (root + at).c_str()) == 0);
  }
};

Status WithOpenat2(const std::string& root, std::string_view path, std::string* out) {
  return ReadSmallFileInRoot(root, path, out, 4096);
}
Status WithoutOpenat2(const std::string& root, std::string_view path, std::string* out) {
  return ReadSmallFileInRootWithoutOpenat2(root, path, out, 4096);
}

TEST_CASE("a file read inside a process's root is the one that process sees", "[fs][read_file]") {
  FakeRoot fake;
  for (const ReadFn& read : {ReadFn(WithOpenat2), ReadFn(WithoutOpenat2)}) {
    std::string text;
    REQUIRE(read(fake.root, "/etc/buildkitd.toml", &text).ok());
    CHECK(text == "inside\n");
    // A missing file is the open's errno, not a read outside.
    const Status missing = read(fake.root, "/etc/nope.toml", &text);
    CHECK(missing.code() == StatusCode::kMissing);
  }
}

TEST_CASE("a .. or an absolute symlink never leads out of a process's root", "[fs][read_file]") {
  FakeRoot fake;
  // `..` past the root: the agent's /tmp/.../buildkitd.toml lies there.
  const std::string dotdot = "/../buildkitd.toml";
  // An absolute symlink: in the process it names its own /etc/buildkitd.toml, in the agent's view
  // the agent's file of that name.
  fake.Link(fake.tmp / "secret", "/etc/abs.toml");
  fake.Link("/etc/buildkitd.toml", "/etc/own.toml");
  fake.Link("../../../secret", "/etc/sub/rel.toml");

  std::string text;
  SECTION("with openat2, each resolves inside the root as the process resolves it") {
    // `..` at the root stays at the root, as in the process: not the agent's file beside it.
    CHECK(WithOpenat2(fake.root, dotdot, &text).code() == StatusCode::kMissing);
    REQUIRE(WithOpenat2(fake.root, "/../etc/buildkitd.toml", &text).ok());
    CHECK(text == "inside\n");
    REQUIRE(WithOpenat2(fake.root, "/etc/own.toml", &text).ok());
    CHECK(text == "inside\n");
    // The link to the agent's path names a file the process does not have.
    CHECK(WithOpenat2(fake.root, "/etc/abs.toml", &text).code() == StatusCode::kMissing);
    CHECK(WithOpenat2(fake.root, "/etc/sub/rel.toml", &text).code() == StatusCode::kMissing);
  }
  SECTION("without openat2, each is refused, not followed") {
    fake.Link(fake.tmp.path(), "/escape");  // a directory symlink on the way
    const std::pair<const char*, StatusCode> refused[] = {
        {"/../buildkitd.toml", StatusCode::kInvalid},
        {"/etc/sub/../buildkitd.toml", StatusCode::kInvalid},
        {"/etc/abs.toml", StatusCode::kSymlink},
        {"/etc/own.toml", StatusCode::kSymlink},
        {"/etc/sub/rel.toml", StatusCode::kSymlink},
        {"/escape/secret", StatusCode::kSymlink},
    };
    for (const auto& [path, code] : refused) {
      INFO(path);
      text = "untouched";
      CHECK(WithoutOpenat2(fake.root, path, &text).code() == code);
      CHECK(text == "untouched");
    }
    // A plain file on the way is what it is, not taken for a symlink.
    CHECK(WithoutOpenat2(fake.root, "/etc/buildkitd.toml/x", &text).code() == StatusCode::kMissing);
  }
}

}  // namespace
}  // namespace cachewarden
