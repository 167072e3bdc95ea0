#include "probes/buildkit.h"

namespace cachewarden {
namespace {

class BuildkitProbe : public Probe {
 public:
  explicit BuildkitProbe(BuildkitOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return BuildkitData::kProbe; }

  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    std::string failures;
    Status last;
    for (const auto& address : options_.addresses) {
      if (ctx.Cancelled()) {
        return Status::Error(StatusCode::kCancelled, "stopped before asking " + address.text);
      }
      BuildkitAnswer answer;
      last = QueryBuildkit(address, options_.call_timeout, ctx.cancel, &answer);
      if (last.ok()) {
        auto data = std::make_shared<BuildkitData>();
        data->address = address.text;
        data->version = std::move(answer.version);
        data->info_served = answer.info_served;
        data->usage = SummarizeUsage(answer.records);
        data->workers = std::move(answer.workers);
        *out = std::move(data);
        return Status::Ok();
      }
      if (!failures.empty()) failures += "; ";
      failures += address.text + ": " + last.ToString();
    }
    // The last address's code, every address's reason: the operator sees why each was passed over.
    return Status::Error(last.code(), "no BuildKit answered: " + failures, last.error_number());
  }

 private:
  BuildkitOptions options_;
};

std::string TypeLabel(const std::string& type) { return type.empty() ? "unknown" : type; }

}  // namespace

BuildkitUsage SummarizeUsage(const std::vector<BuildkitRecord>& records) {
  BuildkitUsage u;
  for (const auto& r : records) {
    ++u.records;
    u.total_bytes += r.size;
    if (r.in_use) {
      ++u.in_use_records;
      u.in_use_bytes += r.size;
    } else {
      u.reclaimable_bytes += r.size;
    }
    if (r.shared) u.shared_bytes += r.size;
    auto& t = u.by_type[TypeLabel(r.type)];
    ++t.records;
    t.bytes += r.size;
    if (r.last_used && (!u.oldest_last_used || *r.last_used < *u.oldest_last_used)) {
      u.oldest_last_used = r.last_used;
    }
  }
  return u;
}

nlohmann::json BuildkitData::ToJson() const {
  nlohmann::json types = nlohmann::json::object();
  for (const auto& [type, t] : usage.by_type) {
    types[type] = {{"records", t.records}, {"bytes", t.bytes}};
  }
  nlohmann::json j = {
      {"address", address},
      {"version", version.version},
      {"info_served", info_served},
      {"records", usage.records},
      {"in_use_records", usage.in_use_records},
      {"total_bytes", usage.total_bytes},
      {"in_use_bytes", usage.in_use_bytes},
      {"shared_bytes", usage.shared_bytes},
      {"reclaimable_bytes", usage.reclaimable_bytes},
      {"by_type", std::move(types)},
  };
  if (usage.oldest_last_used) {
    j["oldest_last_used_timestamp_seconds"] = ToUnixSeconds(*usage.oldest_last_used);
  }
  nlohmann::json ws = nlohmann::json::array();
  for (const auto& w : workers) {
    nlohmann::json policies = nlohmann::json::array();
    for (const auto& p : w.gc_policies) {
      policies.push_back({{"all", p.all},
                          {"keep_duration_seconds", ToSeconds(p.keep_duration)},
                          {"keep_bytes", p.keep_bytes},
                          {"max_used_space_bytes", p.max_used_space},
                          {"min_free_space_bytes", p.min_free_space},
                          {"filters", p.filters}});
    }
    ws.push_back({{"id", w.id},
                  {"labels", w.labels},
                  {"platforms", w.platforms},
                  {"gc_policies", std::move(policies)}});
  }
  j["workers"] = std::move(ws);
  return j;
}

void BuildkitData::ExportMetrics(MetricWriter& out) const {
  out.Gauge("cachewarden_buildkit_up",
            "1 when the BuildKit at this address answered the probe's latest run (absent, with "
            "cachewarden_probe_success{probe=\"buildkit\"} 0, when none did).",
            1, {{"address", address}});
  if (!version.empty()) {
    out.Gauge("cachewarden_buildkit_info", "BuildKit's version, as Info or ListWorkers gives it.",
              1,
              {{"package", version.package},
               {"version", version.version},
               {"revision", version.revision}});
  }
  for (const auto& [type, t] : usage.by_type) {
    out.Gauge("cachewarden_buildkit_records", "Build cache records BuildKit lists, by record type.",
              static_cast<double>(t.records), {{"type", type}});
  }
  for (const auto& [type, t] : usage.by_type) {
    out.Gauge("cachewarden_buildkit_record_bytes",
              "Bytes of the build cache records BuildKit lists, by record type.",
              static_cast<double>(t.bytes), {{"type", type}});
  }
  constexpr std::string_view kBytesHelp =
      "Bytes of BuildKit's build cache records, as BuildKit counts them: total, in use, shared, "
      "reclaimable (not in use).";
  out.Gauge("cachewarden_buildkit_bytes", kBytesHelp, static_cast<double>(usage.total_bytes),
            {{"kind", "total"}});
  out.Gauge("cachewarden_buildkit_bytes", kBytesHelp, static_cast<double>(usage.in_use_bytes),
            {{"kind", "in_use"}});
  out.Gauge("cachewarden_buildkit_bytes", kBytesHelp, static_cast<double>(usage.shared_bytes),
            {{"kind", "shared"}});
  out.Gauge("cachewarden_buildkit_bytes", kBytesHelp, static_cast<double>(usage.reclaimable_bytes),
            {{"kind", "reclaimable"}});
  if (usage.oldest_last_used) {
    out.Gauge("cachewarden_buildkit_oldest_last_used_timestamp_seconds",
              "When the least recently used build cache record was last used.",
              ToUnixSeconds(*usage.oldest_last_used));
  }
  out.Gauge("cachewarden_buildkit_workers", "Workers BuildKit lists.",
            static_cast<double>(workers.size()));
  struct PolicyGauge {
    const char* name;
    const char* help;
    double (*value)(const BuildkitGcPolicy&);
    bool always;  // false: only where non-zero (0 means not set, or a server without the field)
  };
  static constexpr PolicyGauge kPolicyGauges[] = {
      {"cachewarden_buildkit_gc_policy_keep_bytes",
       "A GC policy's keepBytes (reservedSpace from BuildKit 0.17 on, a floor there; a cap before "
       "and in Earthly's fork); 0: none.",
       [](const BuildkitGcPolicy& p) { return static_cast<double>(p.keep_bytes); }, true},
      {"cachewarden_buildkit_gc_policy_keep_duration_seconds",
       "A GC policy's keepDuration: records used more recently are kept; 0: none.",
       [](const BuildkitGcPolicy& p) { return ToSeconds(p.keep_duration); }, true},
      {"cachewarden_buildkit_gc_policy_all",
       "1 if the GC policy applies to all records (not only the usual ones).",
       [](const BuildkitGcPolicy& p) { return p.all ? 1.0 : 0.0; }, true},
      {"cachewarden_buildkit_gc_policy_max_used_bytes",
       "A GC policy's maxUsedSpace (BuildKit 0.17 on): the cap its GC keeps the cache under.",
       [](const BuildkitGcPolicy& p) { return static_cast<double>(p.max_used_space); }, false},
      {"cachewarden_buildkit_gc_policy_min_free_bytes",
       "A GC policy's minFreeSpace (BuildKit 0.17 on): free space its GC keeps on the disk.",
       [](const BuildkitGcPolicy& p) { return static_cast<double>(p.min_free_space); }, false},
  };
  for (const auto& g : kPolicyGauges) {
    for (const auto& w : workers) {
      for (std::size_t i = 0; i < w.gc_policies.size(); ++i) {
        const double v = g.value(w.gc_policies[i]);
        if (!g.always && v == 0) continue;
        out.Gauge(g.name, g.help, v, {{"worker", w.id}, {"policy", std::to_string(i)}});
      }
    }
  }
}

BuildkitOptions ReadBuildkitOptions(ConfigReader& section) {
  BuildkitOptions o;
  const auto texts = section.StringList("address", {"unix:///run/buildkit/buildkitd.sock"});
  if (texts.empty()) section.Fail("address", "needs at least one address");
  for (const auto& t : texts) {
    BuildkitAddress a;
    std::string error;
    if (!ParseBuildkitAddress(t, &a, &error)) section.Fail("address", error);
    o.addresses.push_back(std::move(a));
  }
  o.call_timeout = section.Dur("call_timeout", o.call_timeout, std::chrono::milliseconds(10),
                               std::chrono::minutes(5));
  return o;
}

std::unique_ptr<Probe> NewBuildkitProbe(const BuildkitOptions& options) {
  return std::make_unique<BuildkitProbe>(options);
}

}  // namespace cachewarden
