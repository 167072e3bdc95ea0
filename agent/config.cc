#include "agent/config.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cachewarden {
namespace {

Config Build(const nlohmann::json* doc, const std::string& source,
             const ConfigOverrides& overrides) {
  Config c;
  c.source = source;
  c.effective = nlohmann::json::object();
  ConfigReader top(doc, "", &c.effective);
  c.root = top.String("root", DefaultRoot());
  if (overrides.root) c.root = *overrides.root, c.effective["root"] = c.root;
  if (c.root.empty() || c.root[0] != '/') {
    top.Fail("root", fmt::format("expected an absolute path, got \"{}\"", c.root));
  }
  c.listen = top.String("listen", ":9479");
  if (overrides.listen) c.listen = *overrides.listen, c.effective["listen"] = c.listen;
  if (c.listen.find(':') == std::string::npos) {
    top.Fail("listen", fmt::format("expected host:port or :port, got \"{}\"", c.listen));
  }
  c.proc_root = top.String("proc_root", "/proc");
  c.sys_root = top.String("sys_root", "/sys");

  ConfigReader log = top.Object("log");
  std::string level = log.String("level", "info", NamesOf<LogLevel>(kLogLevelNames));
  std::string format = log.String("format", "json", NamesOf<LogFormat>(kLogFormatNames));
  log.Finish();
  if (overrides.log_level) level = *overrides.log_level;
  if (overrides.log_format) format = *overrides.log_format;
  if (!ParseLogLevel(level, &c.log_level)) {
    throw ConfigError("--log-level",
                      fmt::format("expected debug, info, warn or error, got \"{}\"", level));
  }
  if (!ParseLogFormat(format, &c.log_format)) {
    throw ConfigError("--log-format", fmt::format("expected json or text, got \"{}\"", format));
  }
  c.effective["log"] = {{"level", level}, {"format", format}};

  ConfigReader probes = top.Object("probes");
  c.probes = ReadProbeSpecs(probes);
  ConfigReader gc = top.Object("gc");
  c.gc = ReadGcConfig(gc);
  ConfigReader alerts = top.Object("alerts");
  c.alerts = ReadAlertsConfig(alerts);
  top.Finish();
  return c;
}

}  // namespace

const ProbeSpec* Config::FindProbe(std::string_view name) const {
  for (const auto& p : probes) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string DefaultRoot() {
  const char* env = std::getenv("EARTHLY_TMP_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/tmp/earthly";
}

Config LoadConfigText(const std::string& text, const std::string& source,
                      const ConfigOverrides& overrides) {
  nlohmann::json doc = ParseJsonText(text, source);
  try {
    return Build(&doc, source, overrides);
  } catch (const nlohmann::json::exception& e) {
    // Any library error on the config path is still a config error.
    throw ConfigError(source, e.what());
  }
}

Config LoadConfig(const std::optional<std::string>& file, const ConfigOverrides& overrides) {
  std::optional<std::string> path = file;
  if (!path) {
    const char* env = std::getenv("CACHEWARDEN_CONFIG");
    if (env != nullptr && *env != '\0') path = env;
  }
  if (!path) return Build(nullptr, "built-in defaults", overrides);
  std::ifstream in(*path, std::ios::binary);
  if (!in) {
    throw ConfigError("",
                      fmt::format("{}: cannot read config file: {}", *path, std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return LoadConfigText(buffer.str(), *path, overrides);
}

}  // namespace cachewarden
