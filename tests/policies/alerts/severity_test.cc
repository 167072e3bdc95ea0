#include "policies/alerts/severity.h"

#include <catch2/catch.hpp>

#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

TEST_CASE("severities: one name each, both directions", "[alerts][names]") {
  testing::CheckNameTable<Severity>(kSeverityNames, Severity::kUnknown);
}

}  // namespace
}  // namespace cachewarden
