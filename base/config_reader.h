#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/clock.h"
#include "base/enum_names.h"
#include "base/units.h"

namespace cachewarden {

// A config error; what() is the whole message, starting with the JSON path
// ("/probes/latency/intervall: unknown key; did you mean \"interval\"?").
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& path, const std::string& message)
      : std::runtime_error(path.empty() ? message : path + ": " + message), path_(path) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Strict, typed reads from one JSON object of the config. Each read names a key, its default and
// its allowed range; a wrong type or value throws ConfigError naming the JSON path and what was
// expected. Finish() throws for any key that was never read ("unknown key; did you mean ...?").
// Every value read, given or defaulted, is also written to `effective`, which is how `config print`
// shows the whole effective config.
//
// Used only while loading config (exceptions are fine there). Not thread-safe.
class ConfigReader {
 public:
  // `object` may be null (the section is absent: every read gives the default).
  ConfigReader(const nlohmann::json* object, std::string path, nlohmann::json* effective);

  // Whether `key` is given (null counts as not given).
  bool Has(std::string_view key) const;
  // Marks an optional `key` with no default as known and shows it as null in the effective config
  // (null reads back as "not set").
  void Unset(std::string_view key);
  bool Bool(std::string_view key, bool def);
  std::int64_t Int(std::string_view key, std::int64_t def, std::int64_t min, std::int64_t max);
  double Number(std::string_view key, double def, double min, double max);
  // `allowed`, when not empty, lists the only values accepted.
  std::string String(std::string_view key, std::string_view def,
                     const std::vector<std::string>& allowed = {});
  // A string that must be one of the names of `names` (an enum's name table, base/enum_names.h):
  // the value it names, `def` when absent.
  template <typename E>
  E Choice(std::string_view key, E def, std::type_identity_t<std::span<const EnumName<E>>> names) {
    return ValueIn(names, String(key, NameIn(names, def), NamesOf(names))).value_or(def);
  }
  // A string that must not be shown: `config print` says "<redacted>".
  std::string Secret(std::string_view key);
  std::vector<std::string> StringList(std::string_view key, const std::vector<std::string>& def);
  Duration Dur(std::string_view key, Duration def, Duration min, Duration max);
  SizeSpec Size(std::string_view key, SizeSpec def, bool allow_percent = true);
  // Object<string,string>, e.g. extra labels.
  std::vector<std::pair<std::string, std::string>> StringMap(std::string_view key);

  // A nested object; absent means empty (all defaults).
  ConfigReader Object(std::string_view key);
  // A list of objects; `present` is set to whether the key was given at all. When it was not and
  // `def` is given (a JSON list of objects that outlives the readers), the readers read `def`, so
  // the effective config shows the default list with every default of its objects filled in.
  std::vector<ConfigReader> ObjectList(std::string_view key, bool* present,
                                       const nlohmann::json* def = nullptr);

  // Throws for keys present in the object that no read asked for.
  void Finish();

  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const;
  // Throws ConfigError at this object's `key` with `message`.
  [[noreturn]] void Fail(std::string_view key, std::string_view message) const;

 private:
  const nlohmann::json* Get(std::string_view key);

  const nlohmann::json* object_;
  std::string path_;
  nlohmann::json* effective_;
  std::vector<std::string> known_;
};

// The closest of `candidates` to `word` by edit distance, or "" if none is close enough to be a
// plausible typo.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// Limits on a config document: its size in bytes and how deeply objects and lists nest.
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;
inline constexpr std::size_t kMaxConfigDepth = 64;

// Parses JSON text. Every failure throws ConfigError, never anything else: syntax errors name
// `source`, line and column; a duplicate key, nesting deeper than kMaxConfigDepth and a number out
// of range (1e400) name the JSON path; text over kMaxConfigBytes is refused.
nlohmann::json ParseJsonText(const std::string& text, const std::string& source);

// The contents of the config file at `path`. Throws ConfigError (naming `path`) if it cannot be
// opened or read, is not a regular file (a FIFO or /dev/zero would hang or never end), or is
// larger than kMaxConfigBytes. Never blocks on the file's kind.
std::string ReadConfigFile(const std::string& path);

}  // namespace cachewarden
