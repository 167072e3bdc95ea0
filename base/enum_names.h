#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace cachewarden {

// One row of an enum's name table: the single spelling of a value, used alike by metric labels,
// JSON, logs and config parsing. Each closed enum has one constexpr table of these, in declaration
// order, and both directions go through it (no switch to text, no ternary back).
template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

// The name of `value` in `table`; "" for a value the table lacks (a bug, which the enum's own test
// catches by walking the table).
template <typename E>
constexpr std::string_view NameIn(std::span<const EnumName<E>> table, E value) {
  for (const auto& row : table) {
    if (row.value == value) return row.name;
  }
  return {};
}

// The value spelled `name` in `table`, or nullopt.
template <typename E>
constexpr std::optional<E> ValueIn(std::span<const EnumName<E>> table, std::string_view name) {
  for (const auto& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

}  // namespace cachewarden
