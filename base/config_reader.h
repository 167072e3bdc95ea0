#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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

// Every error found in one config, in the order found: what `config check` reports, one line each.
// what() is their messages, one per line; path() is empty (each error has its own).
class ConfigErrors : public ConfigError {
 public:
  // `source` names the file ("" when unknown).
  explicit ConfigErrors(std::vector<ConfigError> errors, std::string source = "");
  const std::vector<ConfigError>& errors() const { return errors_; }
  const std::string& source() const { return source_; }
  // One "FILE: /json/path: message" line per error (a message that already names the file, such as
  // a syntax error's "FILE:2:16: invalid JSON", as it is).
  std::vector<std::string> Lines() const;

 private:
  std::vector<ConfigError> errors_;
  std::string source_;
};

// Strict, typed reads from one JSON object of the config. Each read names a key, its default and
// its allowed range; a wrong type or value throws ConfigError naming the JSON path and what was
// expected. Finish() throws for any key that was never read ("unknown key; did you mean ...?").
// Every value read, given or defaulted, is also written to `effective`, which is how `config print`
// shows the whole effective config.
//
// A reader that collects errors (CollectErrors(), inherited by the readers of nested objects)
// records each one instead of throwing: a typed read gives its default, Finish() records every
// unknown key, and a Collect() block records what it throws and ends there. ThrowCollected() then
// throws them all as one ConfigErrors, so a person fixes a file in one pass. Without it every
// error throws at once.
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

  // From now on, this reader and those it makes record errors instead of throwing them.
  void CollectErrors();
  // Runs `read`; while collecting, a ConfigError it throws is recorded and `read` ends there.
  void Collect(const std::function<void()>& read);
  // Throws ConfigErrors with every error recorded, if any.
  void ThrowCollected() const;

  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view key) const;
  // Throws ConfigError at this object's `key` with `message`.
  [[noreturn]] void Fail(std::string_view key, std::string_view message) const;

 private:
  const nlohmann::json* Get(std::string_view key);

  // Runs a typed read; while collecting, its error is recorded and `def` returned instead.
  template <typename T, typename F>
  T Guarded(const T& def, F&& read) {
    if (errors_ == nullptr) return read();
    try {
      return read();
    } catch (const ConfigError& e) {
      Record(e);
      return def;
    }
  }
  void Record(const ConfigError& e);

  const nlohmann::json* object_;
  std::string path_;
  nlohmann::json* effective_;
  std::vector<std::string> known_;
  std::shared_ptr<std::vector<ConfigError>> errors_;  // null: not collecting
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
