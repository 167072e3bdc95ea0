#include <catch2/catch.hpp>

#include "actions/reaper.h"
#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

// Beside reaper_test.cc (which deletes real trees): the names need no disk.
TEST_CASE("reap results: one name each, both directions", "[reaper][names]") {
  testing::CheckNameTable<ReapResult>(kReapResultNames, ReapResult::kVanished);
  CHECK(ToString(ReapResult::kDeleted) == "deleted");
}

}  // namespace
}  // namespace cachewarden
