#include "policies/alerts/rules/buildkit_gc_cap.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/units.h"
#include "policies/alerts/rule_support.h"
#include "probes/buildkit.h"
#include "probes/byte_budget.h"
#include "probes/exposure.h"
#include "probes/logs.h"
#include "probes/volume.h"

namespace cachewarden {
constinit const RuleDef kBuildkitGCCapAboveVolume = {
    .name = "BuildkitGCCapAboveVolume",
    .default_for = std::chrono::seconds(0),
    .default_keep_firing_for = std::chrono::minutes(5),
    .params = {},
    .severities = kWarningOnly,
    .eval = &EvalOf<&ExtractGcCap, &DecideGcCap>,
};

std::optional<GcCapInput> ExtractGcCap(const Snapshot& s, SystemTime now) {
  auto vol = s.Get<VolumeData>();
  if (vol == nullptr) return std::nullopt;
  GcCapInput in;
  in.path = CachePath(s);
  in.volume_bytes = vol->size_bytes;
  auto bk = s.Get<BuildkitData>();
  const ProbeResult* run = s.Find(BuildkitData::kProbe);
  auto logs = s.Get<LogsData>();
  if (bk != nullptr && !bk->workers.empty() && run != nullptr && run->status.ok()) {
    in.address = bk->address;
    for (const auto& w : bk->workers) {
      for (const auto& p : w.gc_policies) {
        ++in.policies;
        in.cap_bytes = std::max({in.cap_bytes, p.keep_bytes, p.max_used_space});
      }
    }
  } else if (logs != nullptr && logs->logged_config && logs->logged_config->error.empty()) {
    // BuildKit does not answer: the settings buildkitd was started with, as its entrypoint logged
    // them. An integer gckeepstorage is read as MB there, as Earthly's template writes it. No cap
    // in the file is not judged: buildkitd then applies its own size-based defaults.
    if (!logs->logged_gc_cap) return std::nullopt;
    in.address = "buildkitd";
    in.logged = logs->logged_config->file;
    for (const auto& w : logs->logged_config->gc.workers) in.policies += w.policies.size();
    in.cap_bytes = static_cast<std::int64_t>(logs->logged_gc_cap->bytes_if_mb);
  } else if (auto exp = s.Get<ExposureData>();
             exp != nullptr && exp->discovery.gc && exp->discovery.gc_cap) {
    // Nor was the config logged: buildkitd's config file, read through its root (no cap there is
    // not judged either). It may have
    // changed since buildkitd read it at its start; an integer gckeepstorage is read as
    // BuildkitdGcCap::Guessed says, since nothing tells whose template wrote it.
    in.address = "buildkitd";
    in.config_file = exp->discovery.config_read;
    for (const auto& w : exp->discovery.gc->workers) in.policies += w.policies.size();
    in.cap_bytes = static_cast<std::int64_t>(exp->discovery.gc_cap->Guessed());
  } else {
    return std::nullopt;
  }
  if (auto budget = ComputeByteBudget(s, now); budget && budget->scanned) {
    in.scanned = true;
    in.unmanaged_bytes = budget->Unmanaged();
  }
  return in;
}

namespace {

// Where the cap came from when BuildKit itself did not say: "" when it did.
std::string SettingsSource(const GcCapInput& in) {
  if (!in.logged.empty()) {
    return fmt::format(
        ", as the buildkitd.toml its entrypoint printed in {} says; BuildKit itself does not "
        "answer",
        in.logged);
  }
  if (!in.config_file.empty()) {
    return fmt::format(
        ", as buildkitd's config file {} says now; BuildKit itself does not answer, and "
        "buildkitd reads that file only at its start",
        in.config_file);
  }
  return "";
}

}  // namespace

void DecideGcCap(const GcCapInput& in, const RuleConfig&, RuleOutcome* out) {
  const std::uint64_t room =
      in.volume_bytes > in.unmanaged_bytes ? in.volume_bytes - in.unmanaged_bytes : 0;
  const bool no_cap = in.cap_bytes <= 0;
  const bool above = !no_cap && static_cast<std::uint64_t>(in.cap_bytes) > room;
  Candidate cand = MakeCandidate(Severity::kWarning, no_cap || above, false,
                                 static_cast<double>(std::max<std::int64_t>(in.cap_bytes, 0)));
  const std::string others =
      in.scanned
          ? fmt::format(
                " less the {} BuildKit does not manage (dind, other, what it does not count under "
                "buildkit/, deleted files still open)",
                HumanBytes(in.unmanaged_bytes))
          : std::string();
  if (no_cap) {
    cand.summary =
        fmt::format("BuildKit at {} has no byte cap on its cache on {}", in.address, in.path);
    cand.description = fmt::format(
        "None of BuildKit's {} GC policies limits its cache by size, so it grows until {} is "
        "full and builds fail with \"no space left on device\". Give buildkitd a size cap below "
        "the {} room on the volume: Earthly's CACHE_SIZE_MB or CACHE_SIZE_PCT, or keepBytes / "
        "maxUsedSpace in buildkitd.toml's [[worker.oci.gcpolicy]] (dockerd: "
        "builder.gc.defaultKeepStorage), then restart buildkitd.",
        in.policies, in.path, HumanBytes(room));
  } else {
    cand.summary = fmt::format(
        "BuildKit keeps up to {} on a {} volume ({}): the disk fills "
        "before its GC runs",
        HumanBytes(static_cast<std::uint64_t>(in.cap_bytes)), HumanBytes(in.volume_bytes), in.path);
    cand.description = fmt::format(
        "BuildKit at {} lets its cache grow to {} (the largest keepBytes or maxUsedSpace of its "
        "GC policies{}), but the volume holding {} has {}{}: {} of room. Its GC starts only past "
        "the cap, so the disk is full first. Lower the cap below the room (Earthly's "
        "CACHE_SIZE_MB or CACHE_SIZE_PCT; keepBytes / maxUsedSpace in buildkitd.toml; dockerd: "
        "builder.gc.defaultKeepStorage) and restart buildkitd, or give the cache a larger "
        "volume.",
        in.address, HumanBytes(static_cast<std::uint64_t>(in.cap_bytes)), SettingsSource(in),
        in.path, HumanBytes(in.volume_bytes), others, HumanBytes(room));
    if (!above) {
      out->ok_summary = fmt::format("BuildKit's GC cap {} fits the {} of room on {}",
                                    HumanBytes(static_cast<std::uint64_t>(in.cap_bytes)),
                                    HumanBytes(room), in.path);
    }
  }
  out->candidates.push_back(std::move(cand));
}

}  // namespace cachewarden
