#include "fs/dirfd.h"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <set>

#include "base/unique_fd.h"
#include "tests/support/file_tree.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

using testing::MakeDirs;
using testing::MakeFile;
using testing::TempDir;

TEST_CASE("the directory reader passes every name but . and .. once, batch by batch",
          "[fs][dirfd]") {
  TempDir tmp;
  // Long names fill getdents64's 64 KiB buffer in a few hundred entries: several batches.
  std::set<std::string> made;
  for (int i = 0; i < 1500; ++i) {
    std::string name = std::to_string(i) + "_" + std::string(200, 'x');
    MakeFile(tmp / name, 0);
    made.insert(name);
  }
  MakeDirs(tmp / "sub");
  made.insert("sub");
  UniqueFd dir(OpenDirNoFollow(AT_FDCWD, tmp.path().c_str()));
  REQUIRE(dir.valid());

  std::multiset<std::string> seen;
  std::vector<std::size_t> at_batch_end;
  int err = ForEachDirEntry(
      dir.get(),
      [&](const char* name, unsigned char type) {
        seen.insert(name);
        if (std::string_view(name) == "sub") CHECK((type == DT_DIR || type == DT_UNKNOWN));
      },
      [&] { at_batch_end.push_back(seen.size()); });
  REQUIRE(err == 0);
  CHECK(seen == std::multiset<std::string>(made.begin(), made.end()));
  CHECK(at_batch_end.size() > 1);
  CHECK(std::is_sorted(at_batch_end.begin(), at_batch_end.end()));
  CHECK(at_batch_end.back() == made.size());

  // From the start again through the same fd, collected: the same names.
  std::vector<DirName> names;
  REQUIRE(ReadDirNames(dir.get(), &names) == 0);
  std::sort(names.begin(), names.end());
  std::vector<std::string> sorted;
  for (const auto& d : names) sorted.push_back(d.name);
  CHECK(sorted == std::vector<std::string>(made.begin(), made.end()));
}

TEST_CASE("the directory reader returns the errno of a failed read", "[fs][dirfd]") {
  TempDir tmp;
  MakeFile(tmp / "file", 10);
  UniqueFd file(::open((tmp / "file").c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(file.valid());
  std::vector<DirName> names;
  CHECK(ReadDirNames(file.get(), &names) == ENOTDIR);
  CHECK(names.empty());
}

}  // namespace
}  // namespace cachewarden
