#include "agent/cli.h"

#include <fmt/format.h>

#include <cstdio>

#include "agent/commands.h"
#include "agent/gc_command.h"
#include "agent/scan_command.h"

namespace cachewarden {
namespace {

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> kCommands = [] {
    auto with_config = [](std::vector<OptionSpec> extra) {
      auto o = ConfigOptions();
      o.insert(o.end(), extra.begin(), extra.end());
      return o;
    };
    return std::vector<CommandSpec>{
        {"run", "", "run the agent: probes on timers, HTTP endpoint, reload on SIGHUP",
         "Runs until SIGTERM or SIGINT. Serves /metrics, /healthz, /readyz and /status.\nSIGHUP "
         "reloads the config; a bad config is rejected and the old one keeps running.",
         with_config(
             {{"listen", "ADDR", "HTTP listener, e.g. :9479 or 127.0.0.1:0 (overrides `listen`)"},
              {"port-file", "FILE", "write the bound port to FILE once listening"}}),
         0, &RunCommand,
         "0   stopped by SIGTERM or SIGINT\n64  wrong option\n69  cannot listen on the address\n70 "
         " "
         "internal error (the event loop)\n78  bad config at start (on SIGHUP a bad config is "
         "logged, "
         "the old one kept)"},
        {"check", "",
         "run every probe once and report; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
         "For cron and monitoring systems (the monitoring-plugin convention).",
         with_config({{"json", "", "print the report as JSON"}}), 0, &CheckCommand,
         "0   OK\n1   WARNING\n2   CRITICAL\n3   UNKNOWN: a probe could not look, or the cache "
         "root "
         "does not exist\n64  wrong option\n78  bad config"},
        {"textfile", "",
         "run every probe once and write the metrics for node_exporter's textfile collector",
         "Writes FILE atomically: a temporary file in the same directory, then rename.\nThe "
         "alert series are the rule set evaluated once (a rule with a `for` is pending).\nWith "
         "--gc the GC policies run once first, as `gc` runs them, and their series are written "
         "too.",
         with_config({{"out", "FILE", "where to write the metrics (required)"},
                      {"gc", "", "run the GC policies once (they delete) and write their series"}}),
         0, &TextfileCommand,
         "0   written\n1   written, but a GC policy failed or deleted only part of its plan "
         "(--gc)\n64  wrong option, or no --out\n74  cannot write FILE\n78  bad config"},
        {"config", "check [FILE] | print", "validate a config file, or print the effective config",
         "`config check [FILE]` exits 0 if FILE (or --config, or $CACHEWARDEN_CONFIG) is valid, 78 "
         "if not.\n`config print` prints the effective config as JSON with every default filled "
         "in.",
         ConfigOptions(), 2, &ConfigCommand,
         "0   valid (check), printed (print)\n64  wrong subcommand or option\n78  invalid: every "
         "error, one `FILE: /json/path: message` line each"},
        {"scan", "", "walk the cache once and show what fills it, largest first",
         "Like a one-screen ncdu: groups (buildkit, dind, other), largest entries, dind\nentries "
         "(cache_* or per-build), largest files. Never follows symlinks, never\n"
         "enters another filesystem, counts hard links once (as `du -sx`).",
         with_config(
             {{"top", "N", "how many largest entries and files to show (default: probes.scan.top)"},
              {"json", "", "print the scan as JSON (the scan probe's /status data)"}}),
         0, &ScanCommand,
         "0   scanned\n64  wrong option\n66  the cache root does not exist or cannot be opened\n74 "
         " "
         "the walk failed\n78  bad config"},
        {"gc", "", "run the garbage-collection policies once and report what they did",
         "Prints each policy's plan (every entry, its size and age, and why it is "
         "deleted,\nskipped or kept), then what happened. --dry-run prints the plan only: a real "
         "run\n"
         "on the same state deletes exactly the planned entries. A prune policy's entries are\n"
         "BuildKit's records (at probes.buildkit.address): the plan is what BuildKit would free,\n"
         "the run what its Prune reports freed.",
         with_config({{"dry-run", "", "plan only; delete nothing, run no command, no Prune"},
                      {"policy", "NAME", "run only the policy NAME"},
                      {"json", "", "print the plans and results as JSON"}}),
         0, &GcCommand,
         "0   every policy ran (or had nothing to do)\n1   a policy failed or deleted only part of "
         "its plan\n64  wrong option, or no policy of that name\n66  the cache root does not "
         "exist\n78  bad config"},
        {"version", "", "print the version", "", {}, 0, &VersionCommand, "0   printed"},
    };
  }();
  return kCommands;
}

void PrintUsage(std::FILE* out) {
  fmt::print(out, "usage: cachewarden <command> [options]\n\ncommands:\n");
  for (const auto& c : Commands()) fmt::print(out, "  {:<10} {}\n", c.name, c.summary);
  fmt::print(out, "\nRun `cachewarden <command> --help` for a command's options.\n");
}

void PrintCommandHelp(const CommandSpec& c, std::FILE* out) {
  fmt::print(out, "usage: cachewarden {}{}{} [options]\n\n{}\n", c.name, c.args.empty() ? "" : " ",
             c.args, c.summary);
  if (!c.description.empty()) fmt::print(out, "\n{}\n", c.description);
  fmt::print(out, "\noptions:\n");
  for (const auto& o : c.options) {
    std::string flag = fmt::format("--{}{}{}", o.name, o.value.empty() ? "" : " ", o.value);
    fmt::print(out, "  {:<22} {}\n", flag, o.help);
  }
  fmt::print(out, "  {:<22} {}\n", "--help", "show this help");
  fmt::print(out, "\nexit codes:\n");
  for (std::string_view rest = c.exits; !rest.empty();) {
    auto nl = rest.find('\n');
    fmt::print(out, "  {}\n", rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
}

int UsageError(const std::string& message) {
  fmt::print(stderr, "cachewarden: {}\n", message);
  PrintUsage(stderr);
  return kExitUsage;
}

// A wrong option or argument of a known command: the usage of that command, not the top level's.
int CommandUsageError(const CommandSpec& spec, const std::string& message) {
  fmt::print(stderr, "cachewarden: {}\n", message);
  PrintCommandHelp(spec, stderr);
  return kExitUsage;
}

}  // namespace

std::optional<std::string> CommandLine::Get(std::string_view flag) const {
  auto it = options.find(flag);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

std::vector<OptionSpec> ConfigOptions() {
  return {
      {"config", "FILE", "config file (JSON); default $CACHEWARDEN_CONFIG, else built-in defaults"},
      {"root", "DIR",
       "the cache directory (overrides `root`; default $EARTHLY_TMP_DIR or /tmp/earthly)"},
      {"log-level", "LEVEL", "debug, info, warn or error"},
      {"log-format", "FORMAT", "json (default) or text"}};
}

int RunCli(int argc, char** argv) {
  if (argc < 2) return UsageError("no command given");
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(stdout);
    return 0;
  }
  if (name == "--version") name = "version";
  const CommandSpec* spec = nullptr;
  for (const auto& c : Commands()) {
    if (c.name == name) spec = &c;
  }
  if (spec == nullptr) return UsageError(fmt::format("unknown command \"{}\"", name));

  CommandLine cl;
  cl.command = std::string(name);
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      PrintCommandHelp(*spec, stdout);
      return 0;
    }
    if (arg.starts_with("--")) {
      std::string flag(arg.substr(2));
      std::optional<std::string> inline_value;
      if (auto eq = flag.find('='); eq != std::string::npos) {
        inline_value = flag.substr(eq + 1);
        flag.resize(eq);
      }
      const OptionSpec* opt = nullptr;
      for (const auto& o : spec->options) {
        if (o.name == flag) opt = &o;
      }
      if (opt == nullptr) {
        return CommandUsageError(*spec, fmt::format("{}: unknown option --{}", name, flag));
      }
      if (opt->value.empty()) {
        if (inline_value)
          return CommandUsageError(*spec, fmt::format("{}: --{} takes no value", name, flag));
        cl.options[flag] = "";
      } else if (inline_value) {
        cl.options[flag] = *inline_value;
      } else {
        if (i + 1 >= argc) {
          return CommandUsageError(
              *spec, fmt::format("{}: --{} needs a value ({})", name, flag, opt->value));
        }
        cl.options[flag] = argv[++i];
      }
      continue;
    }
    cl.args.emplace_back(arg);
  }
  if (cl.args.size() > spec->max_args) {
    return CommandUsageError(*spec,
                             fmt::format("{}: unexpected argument \"{}\"", name, cl.args.back()));
  }
  return spec->handler(cl);
}

}  // namespace cachewarden
