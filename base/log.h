#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/enum_names.h"

namespace cachewarden {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
// The spelling of a level: the `log.level` config key, --log-level, and each line's "level".
inline constexpr EnumName<LogLevel> kLogLevelNames[] = {
    {LogLevel::kDebug, "debug"},
    {LogLevel::kInfo, "info"},
    {LogLevel::kWarn, "warn"},
    {LogLevel::kError, "error"},
};
constexpr std::string_view ToString(LogLevel l) { return NameIn<LogLevel>(kLogLevelNames, l); }

enum class LogFormat { kJson, kText };
// The `log.format` config key and --log-format.
inline constexpr EnumName<LogFormat> kLogFormatNames[] = {
    {LogFormat::kJson, "json"},
    {LogFormat::kText, "text"},
};
constexpr std::string_view ToString(LogFormat f) { return NameIn<LogFormat>(kLogFormatNames, f); }

// Process-wide logger writing to stderr: one JSON object per line ({"ts","level","msg", fields...})
// or, for people, one text line: `TS LEVEL msg key=value ...`, where a string value that is not
// plain printable ASCII (spaces, quotes, '=', control or non-ASCII bytes) is a JSON string, so a
// newline or an escape byte in a value (a file name under the cache) cannot end the line or reach
// the terminal raw; other values are JSON. Either way one event is one line. Thread-safe; a line is
// written with one write(2) so lines never interleave.
void ConfigureLog(LogLevel level, LogFormat format);
// The level or format spelled `text` (by the tables above); false, *out untouched, for any other.
bool ParseLogLevel(std::string_view text, LogLevel* out);
bool ParseLogFormat(std::string_view text, LogFormat* out);
void Log(LogLevel level, std::string_view msg,
         const nlohmann::json& fields = nlohmann::json::object());
inline void LogDebug(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(std::string_view m, const nlohmann::json& f = nlohmann::json::object()) {
  Log(LogLevel::kError, m, f);
}

}  // namespace cachewarden
