#include "agent/config.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstdlib>

#include "base/host_port.h"
#include "base/text.h"

namespace cachewarden {
namespace {

// Whether `listen` is ":PORT", "IPV4:PORT" or "[IPV6]:PORT" with PORT from 0 to 65535.
bool ValidListen(const std::string& listen) {
  const auto hp = SplitHostPort(listen, 0);
  if (!hp) return false;
  if (hp->host.empty()) return !hp->bracketed;
  const std::string host(hp->host);
  unsigned char addr[16];
  return ::inet_pton(hp->bracketed ? AF_INET6 : AF_INET, host.c_str(), addr) == 1;
}

// An absolute path with no NUL (which the kernel would silently cut it at).
void CheckAbsolutePath(const ConfigReader& r, std::string_view key, const std::string& path) {
  if (path.find('\0') != std::string::npos) r.Fail(key, "expected a path, got one with a NUL byte");
  if (path.empty() || path[0] != '/') {
    r.Fail(key, fmt::format("expected an absolute path, got \"{}\"", path));
  }
}

Config Build(const nlohmann::json* doc, const std::string& source,
             const ConfigOverrides& overrides) {
  Config c;
  c.source = source;
  c.effective = nlohmann::json::object();
  ConfigReader top(doc, "", &c.effective);
  // Every error of the file is reported at once: each part below records its own and the rest
  // still read.
  top.CollectErrors();
  top.Collect([&] {
    c.root = top.String("root", DefaultRoot());
    if (overrides.root) c.root = *overrides.root, c.effective["root"] = c.root;
    CheckAbsolutePath(top, "root", c.root);
    // One spelling: every path GC and the probes build from the root, and compare with /proc's
    // links and mount tables, starts from it ("/" + "/dind" would never match "/dind").
    c.root = NormalizePath(c.root);
  });
  top.Collect([&] {
    c.listen = top.String("listen", ":9479");
    if (overrides.listen) c.listen = *overrides.listen, c.effective["listen"] = c.listen;
    if (!ValidListen(c.listen)) {
      top.Fail("listen",
               fmt::format("expected host:port or :port (an IPv4 address or [IPv6], port 0 to "
                           "65535), got \"{}\"",
                           c.listen));
    }
  });
  top.Collect([&] {
    c.proc_root = top.String("proc_root", "/proc");
    CheckAbsolutePath(top, "proc_root", c.proc_root);
    c.proc_root = NormalizePath(c.proc_root);
  });
  top.Collect([&] {
    c.sys_root = top.String("sys_root", "/sys");
    CheckAbsolutePath(top, "sys_root", c.sys_root);
  });

  top.Collect([&] {
    ConfigReader log = top.Object("log");
    std::string level = log.String("level", "info", NamesOf<LogLevel>(kLogLevelNames));
    std::string format = log.String("format", "json", NamesOf<LogFormat>(kLogFormatNames));
    log.Finish();
    if (overrides.log_level) level = *overrides.log_level;
    if (overrides.log_format) format = *overrides.log_format;
    c.effective["log"] = {{"level", level}, {"format", format}};
    if (!ParseLogLevel(level, &c.log_level)) {
      throw ConfigError("--log-level",
                        fmt::format("expected debug, info, warn or error, got \"{}\"", level));
    }
    if (!ParseLogFormat(format, &c.log_format)) {
      throw ConfigError("--log-format", fmt::format("expected json or text, got \"{}\"", format));
    }
  });

  top.Collect([&] {
    ConfigReader probes = top.Object("probes");
    c.probes = ReadProbeSpecs(probes);
  });
  top.Collect([&] {
    ConfigReader gc = top.Object("gc");
    c.gc = ReadGcConfig(gc);
  });
  top.Collect([&] {
    ConfigReader alerts = top.Object("alerts");
    c.alerts = ReadAlertsConfig(alerts);
  });
  top.Collect([&] {
    ConfigReader web = top.Object("web");
    c.web = ReadWebConfig(web);
  });
  top.Finish();
  top.ThrowCollected();
  return c;
}

}  // namespace

BuildkitOptions Config::Buildkit() const {
  const ProbeSpec* spec = FindProbe(BuildkitData::kProbe);
  if (spec != nullptr) {
    if (const auto* o = std::get_if<BuildkitOptions>(&spec->options)) return *o;
  }
  return {};
}

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
  // Every error is rethrown as ConfigErrors naming `source`, so that each can be shown as
  // "FILE: /json/path: message".
  auto named = [&source](const ConfigError& e) {
    if (auto* many = dynamic_cast<const ConfigErrors*>(&e))
      return ConfigErrors(many->errors(), source);
    return ConfigErrors({e}, source);
  };
  try {
    nlohmann::json doc = ParseJsonText(text, source);
    return Build(&doc, source, overrides);
  } catch (const ConfigError& e) {
    throw named(e);
  } catch (const std::exception& e) {
    // Any other error while reading the config (a library's type_error or out_of_range) is still
    // a config error: a reload must never be killed by what the file says.
    throw named(ConfigError(source, e.what()));
  }
}

Config LoadConfig(const std::optional<std::string>& file, const ConfigOverrides& overrides) {
  std::optional<std::string> path = file;
  if (!path) {
    const char* env = std::getenv("CACHEWARDEN_CONFIG");
    if (env != nullptr && *env != '\0') path = env;
  }
  if (!path) return Build(nullptr, "built-in defaults", overrides);
  return LoadConfigText(ReadConfigFile(*path), *path, overrides);
}

}  // namespace cachewarden
