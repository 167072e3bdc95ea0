#include "base/log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

#include "base/clock.h"
#include "base/json_text.h"

namespace cachewarden {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kJson};
std::mutex g_write_mutex;

std::string Timestamp() { return Rfc3339(std::chrono::system_clock::now()); }

void WriteAll(const std::string& line) {
  std::lock_guard lock(g_write_mutex);
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// A text field's value: bare when it is printable ASCII without spaces, quotes, backslashes or
// '=', otherwise a JSON string. A newline or an escape byte in a value (a file name under the cache
// can hold any byte) then shows as \n or \u001b inside quotes instead of ending the line or
// driving the terminal, so a value cannot forge a log line.
std::string TextValue(std::string_view v) {
  bool bare = !v.empty() && std::all_of(v.begin(), v.end(), [](unsigned char c) {
    return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
  });
  return bare ? std::string(v) : DumpJson(nlohmann::json(v));
}

// The message as written, unless it holds a control byte: then a JSON string too.
std::string TextMessage(std::string_view msg) {
  bool plain =
      std::none_of(msg.begin(), msg.end(), [](unsigned char c) { return c < ' ' || c == 0x7f; });
  return plain ? std::string(msg) : DumpJson(nlohmann::json(msg));
}

}  // namespace

void ConfigureLog(LogLevel level, LogFormat format) {
  g_level = level;
  g_format = format;
}

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  auto level = ValueIn<LogLevel>(kLogLevelNames, text);
  if (level) *out = *level;
  return level.has_value();
}

bool ParseLogFormat(std::string_view text, LogFormat* out) {
  auto format = ValueIn<LogFormat>(kLogFormatNames, text);
  if (format) *out = *format;
  return format.has_value();
}

void Log(LogLevel level, std::string_view msg, const nlohmann::json& fields) {
  if (level < g_level.load()) return;
  auto name = ToString(level);
  std::string line;
  if (g_format.load() == LogFormat::kJson) {
    nlohmann::json j;
    j["ts"] = Timestamp();
    j["level"] = name;
    j["msg"] = msg;
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items()) j[k] = v;
    }
    line = DumpJson(j) + "\n";
  } else {
    line = fmt::format("{} {:<5} {}", Timestamp(), name, TextMessage(msg));
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items()) {
        line +=
            fmt::format(" {}={}", TextValue(k),
                        v.is_string() ? TextValue(v.get_ref<const std::string&>()) : DumpJson(v));
      }
    }
    line += "\n";
  }
  WriteAll(line);
}

}  // namespace cachewarden
