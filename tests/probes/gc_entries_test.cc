#include "probes/gc_entries.h"

#include <catch2/catch.hpp>

#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

TEST_CASE("gc age_by: one name each, both directions", "[gc][names]") {
  testing::CheckNameTable<GcAgeBy>(kGcAgeByNames, GcAgeBy::kAtime);
}

}  // namespace
}  // namespace cachewarden
