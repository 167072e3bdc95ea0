#include "agent/commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "agent/agent_state.h"
#include "agent/daemon.h"
#include "agent/exposition.h"
#include "agent/gc_stats.h"
#include "agent/oneshot.h"
#include "agent/report.h"
#include "base/json_text.h"
#include "base/text.h"
#include "fs/atomic_file.h"
#include "policies/alerts/alert_engine.h"
#include "policies/alerts/assessment.h"
#include "policies/gc/gc_describe.h"
#include "probes/volume.h"

namespace cachewarden {
ConfigOverrides OverridesFrom(const CommandLine& cl) {
  ConfigOverrides o;
  o.root = cl.Get("root");
  o.listen = cl.Get("listen");
  o.log_level = cl.Get("log-level");
  o.log_format = cl.Get("log-format");
  if (o.root) {
    // A relative --root is taken from the current directory.
    o.root = NormalizePath(std::filesystem::absolute(*o.root).lexically_normal().string());
  }
  return o;
}

namespace {

// Every error of a config, one line each; `prefix` goes before each.
void PrintConfigErrors(const ConfigError& e, std::string_view prefix) {
  if (auto* many = dynamic_cast<const ConfigErrors*>(&e)) {
    for (const auto& line : many->Lines()) fmt::print(stderr, "{}{}\n", prefix, line);
  } else {
    fmt::print(stderr, "{}{}\n", prefix, e.what());
  }
}

std::optional<Config> LoadConfigPrinting(const CommandLine& cl, std::string_view prefix) {
  try {
    Config c = LoadConfig(cl.Get("config"), OverridesFrom(cl));
    ConfigureLog(c.log_level, c.log_format);
    return c;
  } catch (const ConfigError& e) {
    PrintConfigErrors(e, prefix);
    return std::nullopt;
  }
}

}  // namespace

std::optional<Config> LoadConfigForCommand(const CommandLine& cl) {
  return LoadConfigPrinting(cl, "cachewarden: bad config: ");
}

int RunCommand(const CommandLine& cl) {
  auto config = LoadConfigForCommand(cl);
  if (!config) return kExitConfig;
  DaemonOptions options;
  options.config_file = cl.Get("config");
  options.overrides = OverridesFrom(cl);
  options.port_file = cl.Get("port-file");
  // The agent deletes: before it starts, say what and when, one line a person reads per policy.
  for (const auto& line : DescribeGc(config->gc)) LogInfo(line);
  return RunDaemon(std::move(*config), options);
}

int CheckCommand(const CommandLine& cl) {
  auto config = LoadConfigForCommand(cl);
  if (!config) return kExitConfig;
  auto snapshot = CollectOnce(*config);
  const SystemTime now = RealClock::Get().Now();
  auto findings = CheckFindings(*config, *snapshot, now);
  Severity worst = Worst(findings);
  if (cl.Has("json")) {
    fmt::print("{}\n", DumpJson(CheckReportJson(*config, *snapshot, findings, now), 2));
  } else {
    fmt::print("{}", CheckReportText(*config, *snapshot, findings));
  }
  return static_cast<int>(worst);
}

int TextfileCommand(const CommandLine& cl) {
  auto out = cl.Get("out");
  if (!out || out->empty()) {
    fmt::print(stderr, "cachewarden: textfile: --out FILE is required\n");
    return kExitUsage;
  }
  auto config = LoadConfigForCommand(cl);
  if (!config) return kExitConfig;
  auto snapshot = CollectOnce(*config);
  MetricWriter w;
  ExportBuildInfo(w);
  snapshot->ExportMetrics(w);
  int exit_code = 0;
  if (cl.Has("gc")) {
    // The policies once, as `gc` runs them, with the daemon's GC series: a cron host agent that
    // collects garbage and can alert on it.
    GcStats stats;
    std::vector<std::string> names;
    for (const auto& p : config->gc.policies) names.push_back(p.name);
    stats.Declare(names);
    GcRunOptions options;
    options.root = config->root;
    options.proc_root = config->proc_root;
    options.buildkit = config->Buildkit();
    auto volume = snapshot->Get<VolumeData>();
    for (const auto& p : config->gc.policies) {
      GcRunResult run = RunGcPolicy(p, volume.get(), options);
      if (run.result == GcResult::kFailed || run.result == GcResult::kPartial) exit_code = 1;
      stats.Record(run);
    }
    stats.ExportMetrics(w);
  }
  // The rule set once, as the daemon's first evaluation: what holds now fires, or is pending where
  // the rule has a `for` (Prometheus keeps the time over the textfile's series: its twin rules).
  AlertEngine alerts(config->alerts);
  alerts.Evaluate(*snapshot, RealClock::Get().Now());
  alerts.ExportMetrics(w);
  std::string text = ExpositionText(w.Take());
  std::string error;
  if (!WriteAtomically(*out, text, &error)) {
    fmt::print(stderr, "cachewarden: textfile: {}\n", error);
    return kExitIo;
  }
  return exit_code;
}

int ConfigCommand(const CommandLine& cl) {
  if (cl.args.empty()) {
    fmt::print(stderr, "cachewarden: config: expected `check [FILE]` or `print`\n");
    return kExitUsage;
  }
  const std::string& sub = cl.args[0];
  if (sub == "check") {
    CommandLine with_file = cl;
    if (cl.args.size() > 1) with_file.options["config"] = cl.args[1];
    // A linter's lines: every error, each "FILE: /json/path: message".
    auto config = LoadConfigPrinting(with_file, "");
    if (!config) return kExitConfig;
    fmt::print("{}: ok\n", config->source);
    return 0;
  }
  if (sub == "print") {
    if (cl.args.size() > 1) {
      fmt::print(stderr, "cachewarden: config print: unexpected argument \"{}\"\n", cl.args[1]);
      return kExitUsage;
    }
    auto config = LoadConfigForCommand(cl);
    if (!config) return kExitConfig;
    fmt::print("{}\n", DumpJson(config->effective, 2));
    return 0;
  }
  fmt::print(stderr, "cachewarden: config: unknown subcommand \"{}\"; expected check or print\n",
             sub);
  return kExitUsage;
}

int VersionCommand(const CommandLine& /*cl*/) {
  fmt::print("cachewarden {} ({})\n", Version(), Revision());
  return 0;
}

}  // namespace cachewarden
