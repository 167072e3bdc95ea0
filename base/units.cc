#include "base/units.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <utility>

namespace cachewarden {
namespace {

// Reads a non-negative decimal number from the front of `text`.
std::optional<double> TakeNumber(std::string_view& text) {
  std::size_t n = 0;
  bool dot = false;
  while (n < text.size() && ((text[n] >= '0' && text[n] <= '9') || (text[n] == '.' && !dot))) {
    dot = dot || text[n] == '.';
    ++n;
  }
  if (n == 0 || text.substr(0, n) == ".") return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + n, v);
  if (ec != std::errc() || ptr != text.data() + n) return std::nullopt;
  text.remove_prefix(n);
  return v;
}

std::string_view TakeUnit(std::string_view& text) {
  std::size_t n = 0;
  while (n < text.size() && ((text[n] >= 'a' && text[n] <= 'z') ||
                             (text[n] >= 'A' && text[n] <= 'Z') || text[n] == '%')) {
    ++n;
  }
  auto unit = text.substr(0, n);
  text.remove_prefix(n);
  return unit;
}

// In nanoseconds, each exact in a double, so that "8303309ms" is exactly that many milliseconds (a
// scale of 1e-3 seconds is not exact and came out 1 ns short: found by the fuzzer).
// Nanoseconds per unit, as integers: a duration is summed exactly, never in floating point (a
// double holds nanoseconds exactly only up to 2^53, about 104 days).
constexpr std::pair<std::string_view, std::int64_t> kDurationUnits[] = {
    {"ms", 1'000'000},        {"s", 1'000'000'000},      {"m", 60'000'000'000},
    {"h", 3'600'000'000'000}, {"d", 86'400'000'000'000}, {"w", 604'800'000'000'000}};

constexpr std::pair<std::string_view, double> kSizeUnits[] = {
    {"B", 1},           {"KB", 1e3},           {"MB", 1e6},
    {"GB", 1e9},        {"TB", 1e12},          {"KiB", 1024.0},
    {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};

// 100000 days, which covers the longest maximum a key documents (36500d) and stays well inside
// Duration's nanoseconds (about 292 years).
constexpr std::int64_t kMaxDurationNanos = 100'000 * 86'400'000'000'000;

// Reads "digits[.digits]" from the front of `text` and scales it by `unit` nanoseconds exactly,
// truncating below a nanosecond. Nothing beyond kMaxDurationNanos.
std::optional<std::int64_t> TakeScaledNumber(std::string_view& text, std::int64_t unit) {
  std::size_t n = 0;
  std::int64_t whole = 0;
  for (; n < text.size() && text[n] >= '0' && text[n] <= '9'; ++n) {
    // Saturates: anything past the cap is rejected below, and the product never overflows.
    whole = whole > kMaxDurationNanos / 10
                ? kMaxDurationNanos
                : std::min<std::int64_t>(whole * 10 + (text[n] - '0'), kMaxDurationNanos);
  }
  const bool has_whole = n > 0;
  if (whole > kMaxDurationNanos / unit) return std::nullopt;
  std::int64_t nanos = whole * unit;
  bool has_fraction = false;
  if (n < text.size() && text[n] == '.') {
    // The first 18 fractional digits, as a numerator over 10^digits; further digits are worth
    // less than a thousandth of a nanosecond for every unit.
    std::uint64_t numerator = 0, denominator = 1;
    for (++n; n < text.size() && text[n] >= '0' && text[n] <= '9'; ++n) {
      has_fraction = true;
      if (denominator < 1'000'000'000'000'000'000ULL) {
        numerator = numerator * 10 + static_cast<std::uint64_t>(text[n] - '0');
        denominator *= 10;
      }
    }
    __extension__ using Wide = unsigned __int128;
    nanos += static_cast<std::int64_t>(static_cast<Wide>(numerator) * static_cast<Wide>(unit) /
                                       denominator);
  }
  if (!has_whole && !has_fraction) return std::nullopt;
  if (nanos > kMaxDurationNanos) return std::nullopt;
  text.remove_prefix(n);
  return nanos;
}

constexpr double kMaxSizeBytes = 4611686018427387904.0;  // 2^62

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t nanos = 0;
  // Each unit at most once: "1s1s1s" is a typo or a generated string gone wrong, not 3s.
  bool seen[std::size(kDurationUnits)] = {};
  while (!text.empty()) {
    // The unit follows the number, so find it first to scale the number exactly.
    std::size_t digits = 0;
    while (digits < text.size() &&
           ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
      ++digits;
    }
    std::string_view after = text.substr(digits);
    const std::string_view unit = TakeUnit(after);
    std::size_t i = 0;
    while (i < std::size(kDurationUnits) && kDurationUnits[i].first != unit) ++i;
    if (i == std::size(kDurationUnits) || seen[i]) return std::nullopt;
    seen[i] = true;
    std::string_view number = text.substr(0, digits);
    auto scaled = TakeScaledNumber(number, kDurationUnits[i].second);
    if (!scaled || !number.empty()) return std::nullopt;  // e.g. "1.2.3s"
    if (*scaled > kMaxDurationNanos - nanos) return std::nullopt;
    nanos += *scaled;
    text = after;
  }
  return Duration(nanos);
}

std::string FormatDuration(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms == 0) return "0s";
  if (ms % 1000 != 0) return fmt::format("{}ms", ms);
  std::int64_t s = ms / 1000;
  std::string out;
  constexpr std::pair<const char*, std::int64_t> kParts[] = {
      {"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
  for (const auto& [unit, size] : kParts) {
    if (s >= size) {
      out += fmt::format("{}{}", s / size, unit);
      s %= size;
    }
  }
  return out;
}

std::uint64_t SizeSpec::Resolve(std::uint64_t total) const {
  if (!percent) return static_cast<std::uint64_t>(value);
  return static_cast<std::uint64_t>(std::llround(static_cast<double>(total) * value / 100.0));
}

std::string SizeSpec::ToString() const {
  if (percent) return fmt::format("{}%", value);
  auto b = static_cast<std::uint64_t>(value);
  constexpr std::pair<const char*, std::uint64_t> kExact[] = {
      {"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}};
  for (const auto& [unit, size] : kExact) {
    if (b >= size && b % size == 0) return fmt::format("{}{}", b / size, unit);
  }
  return fmt::format("{}B", b);
}

std::optional<SizeSpec> ParseSize(std::string_view text) {
  auto number = TakeNumber(text);
  if (!number) return std::nullopt;
  auto unit = TakeUnit(text);
  if (!text.empty()) return std::nullopt;
  if (unit == "%") {
    if (*number > 100) return std::nullopt;
    return SizeSpec::Percent(*number);
  }
  if (unit.empty()) {
    if (*number != 0) return std::nullopt;  // only "0" may go without a unit
    return SizeSpec::Bytes(0);
  }
  for (const auto& [name, scale] : kSizeUnits) {
    if (unit != name) continue;
    const double bytes = std::floor(*number * scale);
    // Beyond any filesystem; also keeps casts to uint64_t defined.
    if (!(bytes <= kMaxSizeBytes)) return std::nullopt;
    return SizeSpec{false, bytes};
  }
  return std::nullopt;
}

std::string HumanAge(Duration d) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (secs <= 0) return "0s";
  if (secs >= 86400) {
    secs -= secs % 3600;
  } else if (secs >= 3600) {
    secs -= secs % 60;
  }
  return FormatDuration(std::chrono::seconds(secs));
}

std::string HumanAgeSeconds(double seconds) {
  if (!(seconds > 0)) return "0s";
  return HumanAge(
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(std::min(seconds, 1e12))));
}

std::string ShowName(std::string_view name) {
  bool plain = !name.empty();
  for (unsigned char c : name) {
    if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\') plain = false;
  }
  if (plain) return std::string(name);
  std::string out = "\"";
  for (unsigned char c : name) {
    if (c < ' ' || c >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string HumanBytes(std::uint64_t bytes) { return HumanBytes(static_cast<double>(bytes)); }

std::string HumanBytes(double bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int i = 0;
  while (bytes >= 1024 && i < 5) {
    bytes /= 1024;
    ++i;
  }
  if (i == 0) return fmt::format("{:.0f} B", bytes);
  return fmt::format("{:.1f} {}", bytes, kUnits[i]);
}

}  // namespace cachewarden
