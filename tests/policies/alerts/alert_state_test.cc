#include <catch2/catch.hpp>

#include "policies/alerts/alert_engine.h"
#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

// Beside alert_engine_test.cc (the state machine): the names alone.
TEST_CASE("alert states: one name each, both directions", "[alerts][names]") {
  testing::CheckNameTable<AlertState>(kAlertStateNames, AlertState::kResolved);
}

}  // namespace
}  // namespace cachewarden
