#include "base/config_reader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/text.h"

namespace cachewarden {
namespace {

std::string Describe(const nlohmann::json& v) {
  std::string dump = v.dump();
  if (dump.size() > 40) dump = dump.substr(0, 37) + "...";
  return fmt::format("{} {}", v.type_name(), dump);
}

}  // namespace

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

namespace {

// One open object or array while parsing: the keys seen so far (objects) or the elements finished
// so far (arrays), and the component it adds to the JSON path of what is being parsed.
struct Frame {
  bool array = false;
  std::set<std::string> keys;
  std::string key;
  std::size_t count = 0;
};

std::string PathOfFrames(const std::vector<Frame>& frames) {
  std::string path;
  for (const auto& f : frames) {
    path += '/';
    path += f.array ? std::to_string(f.count) : f.key;
  }
  return path;
}

std::string LineColumn(const std::string& text, std::size_t byte) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return fmt::format("{}:{}", line, column);
}

}  // namespace

nlohmann::json ParseJsonText(const std::string& text, const std::string& source) {
  if (text.size() > kMaxConfigBytes) {
    throw ConfigError("",
                      fmt::format("{}: config is larger than {} bytes", source, kMaxConfigBytes));
  }
  // The parser itself is iterative, but the tree it builds is walked recursively (dump, compare,
  // destroy): the callback refuses deep nesting before it is built, and names duplicate keys,
  // which the parser would otherwise resolve silently as "last one wins".
  std::vector<Frame> frames;
  auto element_done = [&frames] {
    if (!frames.empty() && frames.back().array) ++frames.back().count;
  };
  nlohmann::json::parser_callback_t callback = [&](int, nlohmann::json::parse_event_t event,
                                                   nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        if (frames.size() >= kMaxConfigDepth) {
          throw ConfigError(PathOfFrames(frames).empty() ? "/" : PathOfFrames(frames),
                            fmt::format("nesting deeper than {} levels", kMaxConfigDepth));
        }
        frames.emplace_back().array = event == E::array_start;
        break;
      case E::key: {
        Frame& f = frames.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          throw ConfigError(PathOfFrames(frames), "duplicate key");
        }
        break;
      }
      case E::object_end:
      case E::array_end:
        frames.pop_back();
        element_done();
        break;
      case E::value:
        element_done();
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, callback);
  } catch (const ConfigError&) {
    throw;
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message has line and column too, but buried after its own prefix.
    std::string what = e.what();
    auto pos = what.find("syntax error");
    if (pos == std::string::npos) pos = what.find("parse error");
    if (pos == std::string::npos) pos = 0;
    throw ConfigError("", fmt::format("{}:{}: invalid JSON: {}", source, LineColumn(text, e.byte),
                                      what.substr(pos)));
  } catch (const std::exception& e) {
    // Anything else the parser throws (out_of_range for "1e400", bad_alloc) is still a config
    // error, at the key being parsed, never a crash.
    std::string what = e.what();
    auto pos = what.find("] ");
    throw ConfigError(PathOfFrames(frames),
                      fmt::format("{}: invalid JSON: {}", source,
                                  pos == std::string::npos ? what : what.substr(pos + 2)));
  }
}

std::string ReadConfigFile(const std::string& path) {
  auto fail = [&path](const std::string& why) {
    throw ConfigError("", fmt::format("{}: cannot read config file: {}", path, why));
  };
  // O_NONBLOCK so that a FIFO with no writer does not hang the open; fstat then refuses anything
  // that is not a regular file (a FIFO, /dev/zero) before a read could hang or never end.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail(std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes) {
    fail(fmt::format("larger than {} bytes", kMaxConfigBytes));
  }
  // Read at most one byte past the limit, so a file that grows while read is still refused.
  std::string text;
  char buf[65536];
  while (text.size() <= kMaxConfigBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(std::strerror(errno));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  if (text.size() > kMaxConfigBytes) fail(fmt::format("larger than {} bytes", kMaxConfigBytes));
  return text;
}

ConfigReader::ConfigReader(const nlohmann::json* object, std::string path,
                           nlohmann::json* effective)
    : object_(object), path_(std::move(path)), effective_(effective) {
  if (object_ != nullptr && !object_->is_object()) {
    throw ConfigError(path_.empty() ? "/" : path_,
                      fmt::format("expected an object, got {}", Describe(*object_)));
  }
  if (effective_ != nullptr && !effective_->is_object()) {
    *effective_ = nlohmann::json::object();
  }
}

std::string ConfigReader::PathOf(std::string_view key) const {
  return fmt::format("{}/{}", path_, key);
}

void ConfigReader::Fail(std::string_view key, std::string_view message) const {
  throw ConfigError(PathOf(key), std::string(message));
}

bool ConfigReader::Has(std::string_view key) const {
  if (object_ == nullptr) return false;
  auto it = object_->find(key);
  return it != object_->end() && !it->is_null();
}

void ConfigReader::Unset(std::string_view key) {
  known_.emplace_back(key);
  if (effective_) (*effective_)[std::string(key)] = nullptr;
}

const nlohmann::json* ConfigReader::Get(std::string_view key) {
  known_.emplace_back(key);
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(key);
  if (it == object_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool ConfigReader::Bool(std::string_view key, bool def) {
  return Guarded<bool>(def, [&]() -> bool {
    const auto* v = Get(key);
    bool out = def;
    if (v != nullptr) {
      if (!v->is_boolean()) Fail(key, fmt::format("expected true or false, got {}", Describe(*v)));
      out = v->get<bool>();
    }
    if (effective_) (*effective_)[std::string(key)] = out;
    return out;
  });
}

std::int64_t ConfigReader::Int(std::string_view key, std::int64_t def, std::int64_t min,
                               std::int64_t max) {
  return Guarded<std::int64_t>(def, [&]() -> std::int64_t {
    const auto* v = Get(key);
    std::int64_t out = def;
    if (v != nullptr) {
      if (!v->is_number_integer()) {
        Fail(key, fmt::format("expected an integer from {} to {}, got {}", min, max, Describe(*v)));
      }
      out = v->get<std::int64_t>();
      if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
        out = max + (max < INT64_MAX ? 1 : 0);
      }
      if (out < min || out > max) {
        Fail(key, fmt::format("expected an integer from {} to {}, got {}", min, max, v->dump()));
      }
    }
    if (effective_) (*effective_)[std::string(key)] = out;
    return out;
  });
}

double ConfigReader::Number(std::string_view key, double def, double min, double max) {
  return Guarded<double>(def, [&]() -> double {
    const auto* v = Get(key);
    double out = def;
    if (v != nullptr) {
      if (!v->is_number()) {
        Fail(key, fmt::format("expected a number from {} to {}, got {}", min, max, Describe(*v)));
      }
      out = v->get<double>();
      if (out < min || out > max) {
        Fail(key, fmt::format("expected a number from {} to {}, got {}", min, max, v->dump()));
      }
    }
    if (effective_) (*effective_)[std::string(key)] = out;
    return out;
  });
}

std::string ConfigReader::String(std::string_view key, std::string_view def,
                                 const std::vector<std::string>& allowed) {
  return Guarded<std::string>(std::string(def), [&]() -> std::string {
    const auto* v = Get(key);
    std::string out(def);
    if (v != nullptr) {
      if (!v->is_string()) Fail(key, fmt::format("expected a string, got {}", Describe(*v)));
      out = v->get<std::string>();
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), out) == allowed.end()) {
        Fail(key,
             fmt::format("expected one of \"{}\", got \"{}\"", fmt::join(allowed, "\", \""), out));
      }
    }
    if (effective_) (*effective_)[std::string(key)] = out;
    return out;
  });
}

std::string ConfigReader::Secret(std::string_view key) {
  std::string out = String(key, "");
  if (effective_ && !out.empty()) (*effective_)[std::string(key)] = "<redacted>";
  return out;
}

std::vector<std::string> ConfigReader::StringList(std::string_view key,
                                                  const std::vector<std::string>& def) {
  return Guarded<std::vector<std::string>>(def, [&]() -> std::vector<std::string> {
    const auto* v = Get(key);
    std::vector<std::string> out = def;
    if (v != nullptr) {
      if (!v->is_array())
        Fail(key, fmt::format("expected a list of strings, got {}", Describe(*v)));
      out.clear();
      for (std::size_t i = 0; i < v->size(); ++i) {
        if (!(*v)[i].is_string()) {
          Fail(fmt::format("{}/{}", key, i),
               fmt::format("expected a string, got {}", Describe((*v)[i])));
        }
        out.push_back((*v)[i].get<std::string>());
      }
    }
    if (effective_) (*effective_)[std::string(key)] = out;
    return out;
  });
}

Duration ConfigReader::Dur(std::string_view key, Duration def, Duration min, Duration max) {
  return Guarded<Duration>(def, [&]() -> Duration {
    const auto* v = Get(key);
    Duration out = def;
    if (v != nullptr) {
      auto expected = fmt::format(
          "expected a duration string from \"{}\" to \"{}\" like \"500ms\", \"90s\", \"15m\", "
          "\"6h\", \"7d\"",
          FormatDuration(min), FormatDuration(max));
      if (!v->is_string()) Fail(key, fmt::format("{}, got {}", expected, Describe(*v)));
      auto parsed = ParseDuration(v->get<std::string>());
      if (!parsed) Fail(key, fmt::format("{}, got \"{}\"", expected, v->get<std::string>()));
      out = *parsed;
      if (out < min || out > max) {
        Fail(key, fmt::format("{}, got \"{}\" (out of range)", expected, v->get<std::string>()));
      }
    }
    if (effective_) (*effective_)[std::string(key)] = FormatDuration(out);
    return out;
  });
}

SizeSpec ConfigReader::Size(std::string_view key, SizeSpec def, bool allow_percent) {
  return Guarded<SizeSpec>(def, [&]() -> SizeSpec {
    const auto* v = Get(key);
    SizeSpec out = def;
    if (v != nullptr) {
      auto expected =
          allow_percent
              ? std::string(
                    "expected a size string like \"512MiB\", \"50GB\" or a percentage like \"80%\"")
              : std::string("expected a size string like \"512MiB\" or \"50GB\"");
      if (!v->is_string()) Fail(key, fmt::format("{}, got {}", expected, Describe(*v)));
      auto parsed = ParseSize(v->get<std::string>());
      if (!parsed || (parsed->percent && !allow_percent)) {
        Fail(key, fmt::format("{}, got \"{}\"", expected, v->get<std::string>()));
      }
      out = *parsed;
    }
    if (effective_) (*effective_)[std::string(key)] = out.ToString();
    return out;
  });
}

std::vector<std::pair<std::string, std::string>> ConfigReader::StringMap(std::string_view key) {
  return Guarded<std::vector<std::pair<std::string, std::string>>>(
      std::vector<std::pair<std::string, std::string>>{},
      [&]() -> std::vector<std::pair<std::string, std::string>> {
        const auto* v = Get(key);
        std::vector<std::pair<std::string, std::string>> out;
        if (v != nullptr) {
          if (!v->is_object())
            Fail(key, fmt::format("expected an object of strings, got {}", Describe(*v)));
          for (const auto& [k, value] : v->items()) {
            if (!value.is_string()) {
              Fail(fmt::format("{}/{}", key, k),
                   fmt::format("expected a string, got {}", Describe(value)));
            }
            out.emplace_back(k, value.get<std::string>());
          }
        }
        if (effective_) {
          auto& e = (*effective_)[std::string(key)];
          e = nlohmann::json::object();
          for (const auto& [k, value] : out) e[k] = value;
        }
        return out;
      });
}

ConfigReader ConfigReader::Object(std::string_view key) {
  const auto* v = Get(key);
  nlohmann::json* effective = nullptr;
  if (effective_) effective = &(*effective_)[std::string(key)];
  auto make = [&](const nlohmann::json* object) {
    ConfigReader r(object, PathOf(key), effective);
    r.errors_ = errors_;
    return r;
  };
  if (errors_ == nullptr) return make(v);
  try {
    return make(v);
  } catch (const ConfigError& e) {
    Record(e);
    return make(nullptr);
  }
}

std::vector<ConfigReader> ConfigReader::ObjectList(std::string_view key, bool* present,
                                                   const nlohmann::json* def) {
  const auto* v = Get(key);
  *present = v != nullptr;
  if (v == nullptr) v = def;
  std::vector<ConfigReader> out;
  if (v == nullptr) return out;
  if (!v->is_array()) {
    ConfigError e(PathOf(key), fmt::format("expected a list of objects, got {}", Describe(*v)));
    if (errors_ == nullptr) throw e;
    Record(e);
    return out;
  }
  nlohmann::json* effective = nullptr;
  if (effective_) {
    effective = &(*effective_)[std::string(key)];
    *effective = nlohmann::json::array();
    for (std::size_t i = 0; i < v->size(); ++i) effective->push_back(nlohmann::json::object());
  }
  for (std::size_t i = 0; i < v->size(); ++i) {
    const std::string at = fmt::format("{}/{}", PathOf(key), i);
    nlohmann::json* e = effective ? &(*effective)[i] : nullptr;
    try {
      out.emplace_back(&(*v)[i], at, e);
    } catch (const ConfigError& error) {
      if (errors_ == nullptr) throw;
      Record(error);
      continue;
    }
    out.back().errors_ = errors_;
  }
  return out;
}

void ConfigReader::Finish() {
  if (object_ == nullptr) return;
  for (const auto& [key, value] : object_->items()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    auto suggestion = ClosestMatch(key, known_);
    std::string message;
    if (suggestion.empty()) {
      std::vector<std::string> sorted = known_;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      message = fmt::format("unknown key; known keys here: {}", fmt::join(sorted, ", "));
    } else {
      message = fmt::format("unknown key; did you mean \"{}\"?", suggestion);
    }
    ConfigError e(PathOf(key), message);
    if (errors_ == nullptr) throw e;
    Record(e);
  }
}

void ConfigReader::CollectErrors() {
  if (errors_ == nullptr) errors_ = std::make_shared<std::vector<ConfigError>>();
}

void ConfigReader::Collect(const std::function<void()>& read) {
  if (errors_ == nullptr) return read();
  try {
    read();
  } catch (const ConfigError& e) {
    Record(e);
  }
}

void ConfigReader::Record(const ConfigError& e) {
  // One error per path: a value that failed its read is not reported again by a check of the
  // default it fell back to.
  for (const auto& seen : *errors_) {
    if (!seen.path().empty() && seen.path() == e.path()) return;
  }
  if (auto* many = dynamic_cast<const ConfigErrors*>(&e)) {
    for (const auto& one : many->errors()) errors_->push_back(one);
  } else {
    errors_->push_back(e);
  }
}

void ConfigReader::ThrowCollected() const {
  if (errors_ == nullptr || errors_->empty()) return;
  if (errors_->size() == 1) throw errors_->front();
  throw ConfigErrors(*errors_);
}

namespace {

std::string JoinMessages(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    // Appended piece by piece: "\n" + std::string trips GCC 12's false -Wrestrict at -O3.
    if (!out.empty()) out.push_back('\n');
    out.append(e.what());
  }
  return out;
}

}  // namespace

ConfigErrors::ConfigErrors(std::vector<ConfigError> errors, std::string source)
    : ConfigError("", JoinMessages(errors)),
      errors_(std::move(errors)),
      source_(std::move(source)) {}

std::vector<std::string> ConfigErrors::Lines() const {
  std::vector<std::string> out;
  for (const auto& e : errors_) {
    std::string_view what = e.what();
    const bool named = source_.empty() || what.starts_with(source_ + ":") ||
                       what.find(": " + source_ + ":") != std::string_view::npos;
    out.push_back(named ? std::string(what) : fmt::format("{}: {}", source_, what));
  }
  return out;
}

}  // namespace cachewarden
