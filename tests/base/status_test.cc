#include "base/status.h"

#include <catch2/catch.hpp>
#include <cerrno>

#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

TEST_CASE("status codes: one name each, both directions", "[status][names]") {
  testing::CheckNameTable<StatusCode>(kStatusCodeNames, StatusCode::kInternal);
}

TEST_CASE("a status keeps its code, errno and path, and spells its reason by the table",
          "[status]") {
  Status s = Status::Error(StatusCode::kSymlink, "is a symlink", ELOOP, "/c/.cachewarden");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kSymlink);
  CHECK(s.reason() == "symlink");
  CHECK(s.error_number() == ELOOP);
  CHECK(s.path() == "/c/.cachewarden");
  CHECK(s.ToString() == "symlink: is a symlink");

  Status ok = Status::Ok();
  CHECK(ok.ok());
  CHECK(ok.code() == StatusCode::kOk);
  CHECK(ok.ToString() == "ok");
}

TEST_CASE("an error made with the ok code does not read as success", "[status]") {
  Status s = Status::Error(StatusCode::kOk, "bug");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kInternal);
}

TEST_CASE("a failed system call's code comes from its errno", "[status]") {
  CHECK(PosixError("stat", "/x", ENOENT).code() == StatusCode::kMissing);
  CHECK(PosixError("open", "/x/y", ENOTDIR).code() == StatusCode::kMissing);
  CHECK(PosixError("open", "/x", EACCES).code() == StatusCode::kPermission);
  CHECK(PosixError("open", "/x", EPERM).code() == StatusCode::kPermission);
  CHECK(PosixError("read", "/x", EIO).code() == StatusCode::kIo);
  CHECK(PosixError("statvfs", "/x", ENOSPC).code() == StatusCode::kIo);
  Status s = PosixError("stat", "/x", ENOENT);
  CHECK(s.reason() == "missing");
  CHECK(s.error_number() == ENOENT);
  CHECK(s.path() == "/x");
  CHECK(s.ToString() == "missing: stat /x: No such file or directory");
}

}  // namespace
}  // namespace cachewarden
