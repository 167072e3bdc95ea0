// The deciders of policies/alert_rules.h: pure functions from a rule's input and config to
// candidates, with the texts a paged CI engineer reads.
#include <fmt/format.h>

#include <cmath>

#include "base/units.h"
#include "policies/alerts/alert_rules.h"

namespace cachewarden {
namespace {

constexpr std::string_view kFreeSpace =
    "Free space now: `buildctl prune --keep-storage <MB>` or `earthly prune` (never delete under "
    "buildkit/ behind a running buildkitd), remove dind leftovers that are "
    "not cache_*, or grow the volume; lower CACHE_SIZE_PCT so BuildKit's GC keeps it smaller.";

Candidate Make(Severity s, bool fires, bool holds, double value) {
  Candidate c;
  c.severity = s;
  c.fires = fires;
  c.holds = fires || holds;
  c.value = value;
  return c;
}

std::string Dur(double seconds) {
  if (std::isinf(seconds)) return "never";
  return FormatDuration(std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(std::round(std::max(0.0, seconds)))));
}

// A percentage of something used, at warning and critical thresholds.
void Usage(const UsageInput& in, const RuleConfig& c, std::string_view what, std::string_view unit,
           std::string_view remedy, std::vector<Candidate>* out) {
  const double margin = c.Param("hysteresis_percent");
  for (auto [sev, key] : {std::pair{Severity::kWarning, "warning_percent"},
                          std::pair{Severity::kCritical, "critical_percent"}}) {
    const double threshold = c.Param(key);
    Candidate cand = Make(sev, in.used_percent > threshold, in.used_percent > threshold - margin,
                          in.used_percent);
    cand.summary =
        what == "bytes"
            ? fmt::format("The cache filesystem at {} is {:.1f}% full (above {:g}%)", in.path,
                          in.used_percent, threshold)
            : fmt::format("The cache filesystem at {} has {:.1f}% of its inodes used (above {:g}%)",
                          in.path, in.used_percent, threshold);
    cand.description = fmt::format(
        "{:.1f}% of the {} on the filesystem holding {} are used ({} of {}). BuildKit fails with "
        "\"no space left on device\" when it runs out. {}",
        in.used_percent, what, in.path,
        unit == "bytes" ? HumanBytes(in.used) : fmt::format("{:.0f}", in.used),
        unit == "bytes" ? HumanBytes(in.total) : fmt::format("{:.0f} inodes", in.total), remedy);
    out->push_back(std::move(cand));
  }
}

}  // namespace

void DecideNotOnVolume(const NotOnVolumeInput& in, const RuleConfig&, std::vector<Candidate>* out) {
  const bool bad_kind = in.kind == "container_root";
  const bool weak_kind = in.kind == "k8s_emptydir" || in.kind == "k8s_emptydir_memory" ||
                         in.kind == "tmpfs" || in.kind == "network";
  Candidate crit =
      Make(Severity::kCritical, in.readonly || bad_kind, false, in.readonly || bad_kind);
  if (in.readonly) {
    crit.summary = fmt::format("The cache filesystem at {} is read-only", in.path);
    crit.description = fmt::format(
        "{} is on a read-only filesystem: BuildKit cannot write its cache and every build fails. "
        "The kernel remounts a filesystem read-only after I/O errors: check dmesg "
        "and the disk, then remount or replace the volume.",
        in.path);
  } else {
    crit.summary =
        fmt::format("The cache {} is on the container's root filesystem, not a volume", in.path);
    crit.description = fmt::format(
        "{} is on the container root ({}): BuildKit's overlayfs snapshotter cannot work there and "
        "falls back to copying every layer, and the cache fills the node's disk. Mount a "
        "Docker volume or a PersistentVolume at {}.",
        in.path, in.fstype.empty() ? "overlay" : in.fstype, in.path);
  }
  out->push_back(std::move(crit));
  Candidate warn = Make(Severity::kWarning, weak_kind, false, weak_kind);
  warn.labels = {{"kind", in.kind.empty() ? "unknown" : in.kind}};
  warn.summary =
      fmt::format("The cache {} is on {} storage, not a dedicated volume", in.path, in.kind);
  warn.description = fmt::format(
      "{} is on {} ({}): it shares the node's disk or memory, dies with the pod, or is slow. Use a "
      "PersistentVolume (block storage) for the cache; `WITH DOCKER` builds on emptyDir "
      "are known to fail (earthly#1647).",
      in.path, in.kind, in.fstype.empty() ? "unknown filesystem" : in.fstype);
  out->push_back(std::move(warn));
}

void DecideDiskAlmostFull(const UsageInput& in, const RuleConfig& c, std::vector<Candidate>* out) {
  Usage(in, c, "bytes", "bytes", kFreeSpace, out);
}

void DecideInodesAlmostFull(const UsageInput& in, const RuleConfig& c,
                            std::vector<Candidate>* out) {
  Usage(in, c, "inodes", "inodes",
        "Many small files (dind leftovers, unpacked layers) use the inodes: remove dind leftovers "
        "that are not cache_* and prune BuildKit (`buildctl prune`), or recreate "
        "the filesystem with more inodes.",
        out);
}

void DecideFillingUp(const FillingUpInput& in, const RuleConfig& c, std::vector<Candidate>* out) {
  const double margin = c.Param("hysteresis_percent");
  for (auto [sev, free_key, within_key] :
       {std::tuple{Severity::kWarning, "warning_free_percent", "warning_full_within"},
        std::tuple{Severity::kCritical, "critical_free_percent", "critical_full_within"}}) {
    const double free_below = c.Param(free_key), within = c.Param(within_key);
    const bool soon = in.predicted_full_seconds <= within;
    Candidate cand = Make(sev, in.free_percent < free_below && soon,
                          in.free_percent < free_below + margin && soon, in.predicted_full_seconds);
    cand.summary = fmt::format("The cache filesystem at {} will be full in {} ({:.1f}% free)",
                               in.path, Dur(in.predicted_full_seconds), in.free_percent);
    cand.description = fmt::format(
        "{:.1f}% of the filesystem holding {} is free and it fills at {}/s: at this rate it is "
        "full in {}. {}",
        in.free_percent, in.path, HumanBytes(in.fill_rate_bytes_per_second),
        Dur(in.predicted_full_seconds), kFreeSpace);
    out->push_back(std::move(cand));
  }
}

void DecideLatency(const LatencyInput& in, const RuleConfig& c, std::vector<Candidate>* out) {
  // A latency alert holds until p99 drops below 80% of its threshold.
  for (const auto& [op, p99] : in.p99_seconds) {
    for (auto [sev, key] : {std::pair{Severity::kWarning, "warning_p99"},
                            std::pair{Severity::kCritical, "critical_p99"}}) {
      const double threshold = c.Param(key);
      Candidate cand = Make(sev, p99 > threshold, p99 > 0.8 * threshold, p99);
      cand.labels = {{"op", op}};
      cand.summary = fmt::format("{} latency on the cache {} is {:.0f} ms at p99 (above {:.0f} ms)",
                                 op, in.path, p99 * 1000, threshold * 1000);
      cand.description = fmt::format(
          "The active probe's {} requests on {} took {:.0f} ms at the 99th percentile. Builds slow "
          "down accordingly. Check the disk's load (iostat), noisy neighbours on a shared "
          "node disk, or a network filesystem; move the cache to a dedicated local volume.",
          op, in.path, p99 * 1000);
      out->push_back(std::move(cand));
    }
  }
}

void DecideStaleMounts(const StaleMountsInput& in, const RuleConfig& c,
                       std::vector<Candidate>* out) {
  const double max_age = c.Param("max_age");
  int stale = 0;
  std::string example;
  for (const auto& m : in.mounts) {
    if (m.age_seconds <= max_age) continue;
    if (stale++ == 0) example = m.mount_point;
  }
  Candidate cand = Make(Severity::kWarning, stale > 0, false, stale);
  cand.summary = fmt::format("{} mount(s) under {} outlived their build, seen for over {}", stale,
                             in.path, Dur(max_age));
  cand.description = fmt::format(
      "{} mount(s) under the dind directory {} outlived their build (for example {}). They make "
      "dind cleanup fail with \"Resource busy\" and keep their data on disk. Unmount them "
      "(`umount -l <path>`) once no build uses them, then remove the directories.",
      stale, in.path, example);
  out->push_back(std::move(cand));
}

void DecideResourceBusy(const LogEventInput& in, const RuleConfig& c, std::vector<Candidate>* out) {
  const double window = c.Param("window");
  const bool recent = in.seconds_since_last <= window;
  Candidate cand = Make(Severity::kWarning, recent, false, in.seconds_since_last);
  cand.summary = fmt::format("dind cleanup under {} failed with \"Resource busy\" {} ago", in.path,
                             Dur(in.seconds_since_last));
  cand.description = fmt::format(
      "buildkitd could not remove a docker-in-docker directory under {} because a mount was still "
      "alive under it{}. Leftovers accumulate and fill the disk (earthly#1647, #3696). "
      "Find the stale mounts (see DindStaleMounts), unmount them, remove the directory.",
      in.path, in.last_line.empty() ? "" : fmt::format(" (\"{}\")", in.last_line));
  out->push_back(std::move(cand));
}

void DecideLeftovers(const LeftoversInput& in, const RuleConfig& c, std::vector<Candidate>* out) {
  const double max_size = c.Param("max_size"), max_entries = c.Param("max_entries");
  Candidate cand =
      Make(Severity::kWarning, in.bytes > max_size || in.entries > max_entries, false, in.bytes);
  cand.summary = fmt::format("dind leftovers under {}: {} in {:.0f} entries", in.path,
                             HumanBytes(in.bytes), in.entries);
  cand.description = fmt::format(
      "{} entries ({}) under {} are not cache_* and belong to no running build (limits: {}, {:.0f} "
      "entries). `earthly prune` does not remove them (earthly#3696). Remove them while "
      "no build runs, or restart buildkitd, whose entrypoint wipes them.",
      in.entries, HumanBytes(in.bytes), in.path, HumanBytes(max_size), max_entries);
  out->push_back(std::move(cand));
}

void DecideSnapshotterFallback(const FallbackInput& in, const RuleConfig&,
                               std::vector<Candidate>* out) {
  Candidate cand = Make(Severity::kWarning, in.fell_back, false, in.fell_back ? 1 : 0);
  cand.summary = fmt::format("BuildKit fell back from overlayfs to the {} snapshotter on {}",
                             in.snapshotter.empty() ? "native" : in.snapshotter, in.path);
  cand.description = fmt::format(
      "overlayfs is not available for {}, so BuildKit copies every layer: builds are slow and the "
      "cache is several times larger. This happens when the cache is on the container's "
      "overlay root: mount a real volume at {} and restart buildkitd.",
      in.path, in.path);
  out->push_back(std::move(cand));
}

void DecideGcIneffective(const GcInput& in, const RuleConfig& c, std::vector<Candidate>* out) {
  const double after = c.Param("trigger_held_for");
  for (const auto& p : in.policies) {
    Candidate cand = Make(Severity::kWarning, p.trigger_held_seconds >= after && p.runs > 0, false,
                          p.trigger_held_seconds);
    cand.labels = {{"policy", p.name}};
    cand.summary = fmt::format("GC policy {} has been triggered for {} on {} and freed nothing",
                               p.name, Dur(p.trigger_held_seconds), in.path);
    cand.description = fmt::format(
        "GC policy {} has wanted to free space on {} for {}, but its {:.0f} run(s) ({:.0f} failed) "
        "freed nothing. Either nothing matches its filters (everything is too young, "
        "open or holds a mount) or deletion fails: see the agent's log and `cachewarden gc "
        "--dry-run --policy {}`, widen the policy, or prune BuildKit by hand.",
        p.name, in.path, Dur(p.trigger_held_seconds), p.runs, p.failed_runs, p.name);
    out->push_back(std::move(cand));
  }
}

void DecideIoErrors(const IoErrorsInput& in, const RuleConfig& c, std::vector<Candidate>* out) {
  // One alert per source, labelled as the Prometheus rules label theirs.
  constexpr std::string_view kRemedy =
      "The disk or its filesystem is failing: BuildKit's bolt databases (metadata_v2.db) get "
      "corrupted (earthly#3991). Check dmesg and the disk's health; stop buildkitd, repair or "
      "replace the volume, and expect to rebuild the cache.";
  const std::string summary = fmt::format("I/O errors on the cache filesystem at {}", in.path);
  Candidate probe = Make(Severity::kCritical, in.probe_eio, false, in.probe_eio ? 1 : 0);
  probe.labels = {{"source", "probe"}};
  probe.summary = summary;
  probe.description =
      fmt::format("cachewarden's active I/O probe got EIO on {}. {}", in.path, kRemedy);
  out->push_back(std::move(probe));

  const bool recent = in.seconds_since_log_error <= c.Param("window");
  Candidate logs = Make(Severity::kCritical, recent, false, recent ? 1 : 0);
  logs.labels = {{"source", "logs"}};
  logs.summary = summary;
  logs.description = fmt::format("\"input/output error\" appeared in BuildKit's logs {} ago. {}",
                                 Dur(in.seconds_since_log_error), kRemedy);
  out->push_back(std::move(logs));
}

void DecideProbeFailing(const ProbesInput& in, const RuleConfig&, std::vector<Candidate>* out) {
  for (const auto& p : in.probes) {
    Candidate cand = Make(Severity::kWarning, p.failing, false, p.consecutive_failures);
    cand.labels = {{"probe", p.name}};
    const std::string on = in.path.empty() ? "" : " on " + in.path;
    cand.summary = fmt::format("cachewarden's {} probe{} is failing: {}", p.name, on, p.reason);
    cand.description = fmt::format(
        "The {} probe{} failed {} time(s) in a row ({}: {}). Its figures are stale and the alerts "
        "built on them cannot fire. A \"timeout\" usually means a hung filesystem; \"permission\" "
        "a missing capability or mount in the agent's pod.",
        p.name, on, p.consecutive_failures, p.reason, p.error);
    out->push_back(std::move(cand));
  }
}

}  // namespace cachewarden
