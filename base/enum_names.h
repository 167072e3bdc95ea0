#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// Every name of `table`, in its order: the values a config key accepts.
template <typename E>
std::vector<std::string> NamesOf(std::span<const EnumName<E>> table) {
  std::vector<std::string> out;
  out.reserve(table.size());
  for (const auto& row : table) out.emplace_back(row.name);
  return out;
}

}  // namespace cachewarden
