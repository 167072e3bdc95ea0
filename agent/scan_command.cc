#include "agent/scan_command.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>

#include "agent/commands.h"
#include "agent/oneshot.h"
#include "agent/report.h"
#include "base/json_text.h"
#include "probes/byte_budget.h"

namespace cachewarden {
namespace {

void AppendTotalsRow(std::string* out, std::string_view label, const EntryTotals& t,
                     SystemTime now) {
  *out += fmt::format("  {:<28} {:>10} {:>10} {:>10}  {:>6}  {:>6}\n", label,
                      HumanBytes(static_cast<double>(t.allocated_bytes)),
                      HumanBytes(static_cast<double>(t.apparent_bytes)), t.inodes,
                      t.inodes ? HumanAgeSeconds(AgeSeconds(t.newest_mtime, now)) : "-",
                      t.inodes ? HumanAgeSeconds(AgeSeconds(t.oldest_mtime, now)) : "-");
}

void AppendHeader(std::string* out, std::string_view title) {
  *out += fmt::format("\n{}\n  {:<28} {:>10} {:>10} {:>10}  {:>6}  {:>6}\n", title, "", "allocated",
                      "apparent", "inodes", "idle", "oldest");
}

}  // namespace

std::string ScanReportText(const ScanData& d, std::size_t top) {
  const SystemTime now = d.scanned_at;
  std::string out = fmt::format("{}: {} allocated, {} apparent, {} inodes (scanned in {:.2f}s)\n",
                                d.root, HumanBytes(static_cast<double>(d.total.allocated_bytes)),
                                HumanBytes(static_cast<double>(d.total.apparent_bytes)),
                                d.total.inodes, ToSeconds(d.duration));
  // One vocabulary with check and the docs: idle is the time since anything in it was modified.
  out +=
      "(idle: since anything in it was last modified; oldest: its least recently modified file)\n";
  AppendHeader(&out, "groups:");
  for (const auto& g : d.groups) AppendTotalsRow(&out, g.name, g.totals, now);
  if (!d.largest.empty() && top > 0) {
    AppendHeader(&out, "largest entries:");
    for (std::size_t i = 0; i < d.largest.size() && i < top; ++i) {
      AppendTotalsRow(&out, ShowName(d.largest[i].path), d.largest[i].totals, now);
    }
  }
  if (!d.dind_entries.empty()) {
    std::uint64_t n[2] = {0, 0}, bytes[2] = {0, 0};
    for (const auto& e : d.dind_entries) {
      ++n[e.is_cache];
      bytes[e.is_cache] += e.allocated_bytes;
    }
    out += fmt::format("\ndind entries: {} cache_* ({}), {} per-build ({})\n", n[1],
                       HumanBytes(static_cast<double>(bytes[1])), n[0],
                       HumanBytes(static_cast<double>(bytes[0])));
    for (std::size_t i = 0; i < d.dind_entries.size() && i < top; ++i) {
      const auto& e = d.dind_entries[i];
      out += fmt::format("  {:<40} {:>10}  {:<5}  idle {}{}\n", ShowName(e.name),
                         HumanBytes(static_cast<double>(e.allocated_bytes)),
                         e.is_cache ? "cache" : "build",
                         HumanAgeSeconds(AgeSeconds(e.newest_mtime, now)),
                         e.mount_points ? "  (mount inside)" : "");
    }
  }
  if (!d.largest_files.empty() && top > 0) {
    out += "\nlargest files:\n";
    for (std::size_t i = 0; i < d.largest_files.size() && i < top; ++i) {
      out += fmt::format("  {:>10}  {}\n",
                         HumanBytes(static_cast<double>(d.largest_files[i].allocated_bytes)),
                         ShowName(d.largest_files[i].path));
    }
  }
  if (d.total.mount_points > 0) {
    out += fmt::format("\nmount points inside, not entered or counted: {}\n", d.total.mount_points);
    for (const auto& m : d.mount_points) out += fmt::format("  {}\n", m);
  }
  if (d.total.links_by_share > 0) {
    out += fmt::format(
        "\ntotals approximate: more multiply-linked files than probes.scan.max_hard_links; {} "
        "links counted by share (1/nlink of the file each)\n",
        d.total.links_by_share);
  }
  if (d.skipped_total.Total() > 0) {
    out += fmt::format("\nskipped: {} vanished, {} permission denied, {} errors\n",
                       d.skipped_total.vanished, d.skipped_total.permission, d.skipped_total.error);
  }
  return out;
}

int ScanCommand(const CommandLine& cl) {
  auto config = LoadConfigForCommand(cl);
  if (!config) return kExitConfig;
  const nlohmann::json* section = nullptr;
  if (auto p = config->effective.find("probes"); p != config->effective.end()) {
    if (auto s = p->find("scan"); s != p->end()) section = &*s;
  }
  ConfigReader reader(section, "/probes/scan", nullptr);
  ScanOptions options;
  try {
    options = ReadScanOptions(reader);
  } catch (const ConfigError& e) {
    fmt::print(stderr, "cachewarden: bad config: {}\n", e.what());
    return kExitConfig;
  }
  if (auto top = cl.Get("top")) {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(top->data(), top->data() + top->size(), n);
    if (ec != std::errc() || ptr != top->data() + top->size() || n > 10'000) {
      fmt::print(stderr, "cachewarden: scan: --top expects a number from 0 to 10000\n");
      return kExitUsage;
    }
    options.top = n;
  }
  ScanData data;
  Status s = ScanCache(config->root, options, nullptr, RealClock::Get(), &data);
  if (!s.ok() && s.path() == config->root) {
    // The root itself: one line that says so, as `check` does.
    std::string missing = RootMissing(s, config->root);
    if (missing.empty()) missing = fmt::format("cannot open the cache root: {}", s.ToString());
    fmt::print(stderr, "cachewarden: scan: {}\n", missing);
    return kExitNoInput;
  }
  if (!s.ok()) {
    fmt::print(stderr, "cachewarden: scan {}: {}\n", config->root, s.ToString());
    return kExitIo;
  }
  // The byte budget needs the volume's figures and, where the buildkit probe is on, BuildKit's
  // own count: one run of each, as `check` runs them.
  constexpr std::string_view kBudgetProbes[] = {"volume", "buildkit"};
  Snapshot snapshot = *CollectOnce(*config, kBudgetProbes);
  auto scan = std::make_shared<const ScanData>(std::move(data));
  snapshot.Put(scan, scan->scanned_at);
  const auto budget = ComputeByteBudget(snapshot, scan->scanned_at);
  if (cl.Has("json")) {
    nlohmann::json j = scan->ToJson();
    if (budget) j["byte_budget"] = ByteBudgetJson(*budget);
    fmt::print("{}\n", DumpJson(j, 2));
  } else {
    fmt::print("{}", ScanReportText(*scan, options.top));
    if (budget) fmt::print("\n{}", ByteBudgetText(*budget));
  }
  return 0;
}

}  // namespace cachewarden
