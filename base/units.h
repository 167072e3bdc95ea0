#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace cachewarden {

// Parses "500ms", "90s", "15m", "6h", "7d", "1w" and sums like "1h30m". A bare number is rejected:
// a unit is always required. nullopt on bad input.
std::optional<Duration> ParseDuration(std::string_view text);
// The shortest exact spelling of `d` in the units above ("90s", "6h", "1h30m").
std::string FormatDuration(Duration d);

// A size from config: absolute bytes ("512MiB", "50GB", "0") or a percentage of the filesystem that
// holds the cache ("80%").
struct SizeSpec {
  bool percent = false;
  double value = 0;  // bytes, or percent in [0, 100]
  // Bytes for a filesystem of `total` bytes.
  std::uint64_t Resolve(std::uint64_t total) const;
  std::string ToString() const;
  static SizeSpec Bytes(std::uint64_t b) { return {false, static_cast<double>(b)}; }
  static SizeSpec Percent(double p) { return {true, p}; }
  bool operator==(const SizeSpec&) const = default;
};

// Accepts B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers of 1024), and N%; nullopt on bad
// input and on sizes above 2^62 bytes.
std::optional<SizeSpec> ParseSize(std::string_view text);
// Bytes for people: "1.5 GiB", "512 B".
std::string HumanBytes(double bytes);
// The same for a count of bytes (st_blocks * 512, statvfs figures).
std::string HumanBytes(std::uint64_t bytes);
// An age for people, at most two units: "2d3h", "5h12m", "42s"; "0s" for negative ones (a clock set
// back).
std::string HumanAge(Duration d);
std::string HumanAgeSeconds(double seconds);
// A file or entry name for a terminal: as is when plain, else quoted with control bytes, quotes,
// backslashes and non-ASCII bytes as \xNN, so that a name cannot forge a line or hide what it is.
std::string ShowName(std::string_view name);

}  // namespace cachewarden
