#pragma once

#include <catch2/catch.hpp>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/enum_names.h"

namespace cachewarden::testing {

// Walks an enum's name table (base/enum_names.h): rows in declaration order with no value left out
// (the i-th row holds the enumerator whose value is i, the last row `last`), every name non-empty,
// unique and spelled in lower case, digits and '_' (metric labels and config values alike), and
// both directions round-trip.
template <typename E>
void CheckNameTable(std::type_identity_t<std::span<const EnumName<E>>> table, E last) {
  REQUIRE(!table.empty());
  CHECK(table.back().value == last);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& row = table[i];
    INFO("row " << i << ": \"" << std::string(row.name) << "\"");
    CHECK(static_cast<std::size_t>(row.value) == i);
    CHECK(!row.name.empty());
    CHECK(row.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") ==
          std::string_view::npos);
    CHECK(names.insert(row.name).second);
    CHECK(NameIn(table, row.value) == row.name);
    CHECK(ValueIn(table, row.name) == row.value);
  }
  CHECK_FALSE(ValueIn(table, "no such name").has_value());
}

}  // namespace cachewarden::testing
