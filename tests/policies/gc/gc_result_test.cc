#include "policies/gc/gc_result.h"

#include <catch2/catch.hpp>

#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

TEST_CASE("gc results: one name each, both directions", "[gc][names]") {
  testing::CheckNameTable<GcResult>(kGcResultNames, GcResult::kDryRun);
}

}  // namespace
}  // namespace cachewarden
