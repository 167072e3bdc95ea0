#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cachewarden {

// sysexits(3) codes used by the command line.
constexpr int kExitUsage = 64;        // EX_USAGE: wrong command or option
constexpr int kExitConfig = 78;       // EX_CONFIG: bad configuration
constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE: cannot listen
constexpr int kExitSoftware = 70;     // EX_SOFTWARE: internal error
constexpr int kExitNoInput = 66;      // EX_NOINPUT: the cache root cannot be read
constexpr int kExitIo = 74;           // EX_IOERR: cannot write output, or a walk failed

// The parsed command line of one command: flags by name (without "--"), positional arguments in
// order.
struct CommandLine {
  std::string command;
  std::map<std::string, std::string, std::less<>> options;
  std::vector<std::string> args;
  bool Has(std::string_view flag) const { return options.contains(flag); }
  std::optional<std::string> Get(std::string_view flag) const;
};

// One option of a command.
struct OptionSpec {
  std::string_view name;   // "root" for --root
  std::string_view value;  // "DIR", or "" for a switch
  std::string_view help;
};

// One command: the table in cli.cc is the list of them.
struct CommandSpec {
  std::string_view name;
  std::string_view args;  // positional synopsis, e.g. "[FILE]"
  std::string_view summary;
  std::string_view description;
  std::vector<OptionSpec> options;
  std::size_t max_args;
  int (*handler)(const CommandLine& cl);
  // Every exit code the command gives and what it means, one "CODE  meaning" per line: --help
  // prints it, README lists the same.
  std::string_view exits;
};

// The options every command that loads config understands.
std::vector<OptionSpec> ConfigOptions();

// Entry point: parses argv, runs the command, returns the exit code.
int RunCli(int argc, char** argv);

}  // namespace cachewarden
