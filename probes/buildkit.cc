#include "probes/buildkit.h"

#include <fmt/format.h>

#include "probes/buildkit_earthly.h"
#include "probes/exposure.h"

namespace cachewarden {
namespace {

class BuildkitProbe : public Probe {
 public:
  explicit BuildkitProbe(BuildkitOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return BuildkitData::kProbe; }

  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    std::string failures;
    Status last;
    std::vector<BuildkitUnreachable> unreachable;
    for (const auto& address : options_.addresses) {
      if (ctx.Cancelled()) {
        return Status::Error(StatusCode::kCancelled, "stopped before asking " + address.text);
      }
      BuildkitAnswer answer;
      last = QueryBuildkit(address, options_.call_timeout, ctx.cancel, &answer);
      std::string through;
      if (!last.ok()) through = ThroughProcessRoot(ctx, address, &answer, &last);
      if (last.ok()) {
        auto data = std::make_shared<BuildkitData>();
        data->address = address.text;
        data->unreachable = std::move(unreachable);
        data->version = std::move(answer.version);
        data->info_served = answer.info_served;
        data->health = answer.health;
        data->health_served = answer.health_served;
        data->sessions = answer.sessions;
        data->usage = SummarizeUsage(answer.records);
        data->workers = std::move(answer.workers);
        data->reached_through = std::move(through);
        *out = std::move(data);
        return Status::Ok();
      }
      if (last.code() == StatusCode::kCancelled) return last;  // stopped: nothing was judged
      if (!failures.empty()) failures += "; ";
      failures += address.text + ": " + last.ToString();
      unreachable.push_back({address.text, last});
    }
    auto down = std::make_shared<BuildkitDownData>();
    down->unreachable = std::move(unreachable);
    *out = std::move(down);
    // The last address's code, every address's reason: the operator sees why each was passed over.
    return Status::Error(last.code(), "no BuildKit answered: " + failures, last.error_number());
  }

 private:
  // What is not here may be in buildkitd's own mount namespace: a unix:// socket missing at its
  // path, or a tcp:// address's tls file missing (Earthly's image keeps them at /etc/*.pem in
  // buildkitd's container). Tried once more through /proc/<pid>/root of `process`; a socket that
  // refuses or hangs is not asked twice. On an answer *last is ok and the root is returned; else
  // *last keeps the first failure, with the second's reason added, and "" is returned.
  std::string ThroughProcessRoot(const ProbeContext& ctx, const BuildkitAddress& address,
                                 BuildkitAnswer* answer, Status* last) {
    if (last->code() != StatusCode::kMissing || options_.process.empty()) return "";
    const bool tls_file = address.kind == BuildkitAddress::Kind::kTcp && address.tls &&
                          address.tls->root.empty() &&
                          (last->path() == address.tls->ca || last->path() == address.tls->cert ||
                           last->path() == address.tls->key);
    if (address.kind != BuildkitAddress::Kind::kUnix && !tls_file) return "";
    std::string error;
    const int pid = FindProcess(ctx.proc_root, options_.process, &error);
    if (pid <= 0) return "";
    BuildkitAddress inside = address;
    const std::string root = fmt::format("{}/{}/root", ctx.proc_root, pid);
    if (tls_file) {
      inside.tls->root = root;
    } else {
      inside.path = root + address.path;
    }
    Status again = QueryBuildkit(inside, options_.call_timeout, ctx.cancel, answer);
    if (again.ok()) {
      *last = again;
      return root;
    }
    *last = Status::Error(last->code(),
                          fmt::format("{}; through {}: {}", last->message(), root, again.message()),
                          last->error_number(), last->path());
    return "";
  }

  BuildkitOptions options_;
};

std::string TypeLabel(const std::string& type) { return type.empty() ? "unknown" : type; }

constexpr std::string_view kUpHelp =
    "1 when the BuildKit at this configured address answered the probe's latest run, 0 when it "
    "was tried and did not (the reason in /status); an address after the one that answered is not "
    "tried and not listed.";

void ExportUnreachable(const std::vector<BuildkitUnreachable>& unreachable, MetricWriter& out) {
  for (const auto& u : unreachable) {
    out.Gauge("cachewarden_buildkit_up", kUpHelp, 0, {{"address", u.address}});
  }
}

nlohmann::json UnreachableJson(const std::vector<BuildkitUnreachable>& unreachable) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& u : unreachable) {
    j.push_back(
        {{"address", u.address}, {"reason", u.status.reason()}, {"error", u.status.message()}});
  }
  return j;
}

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
      {"reached_through", reached_through},
      {"unreachable", UnreachableJson(unreachable)},
      {"version", version.version},
      {"info_served", info_served},
      {"health", NameIn<BuildkitHealth>(kBuildkitHealthNames, health)},
      {"health_served", health_served},
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
  if (sessions) {
    j["sessions"] = {{"sessions", sessions->sessions}, {"idle_seconds", sessions->idle_seconds}};
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
    nlohmann::json wj = {{"id", w.id},
                         {"labels", w.labels},
                         {"platforms", w.platforms},
                         {"gc_policies", std::move(policies)}};
    if (w.parallelism) {
      wj["parallelism"] = {{"current", w.parallelism->current},
                           {"max", w.parallelism->max},
                           {"waiting", w.parallelism->waiting}};
    }
    if (w.gc_analytics) wj["gc_analytics"] = GcAnalyticsJson(*w.gc_analytics);
    ws.push_back(std::move(wj));
  }
  j["workers"] = std::move(ws);
  return j;
}

nlohmann::json BuildkitDownData::ToJson() const {
  return {{"unreachable", UnreachableJson(unreachable)}};
}

void BuildkitDownData::ExportMetrics(MetricWriter& out) const {
  ExportUnreachable(unreachable, out);
}

void BuildkitData::ExportMetrics(MetricWriter& out) const {
  ExportUnreachable(unreachable, out);
  out.Gauge("cachewarden_buildkit_up", kUpHelp, 1, {{"address", address}});
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
  for (const auto& row : kBuildkitHealthNames) {
    out.Gauge("cachewarden_buildkit_health",
              "grpc.health.v1 Check of BuildKit: 1 for its status, 0 for the others; \"unknown\" "
              "also when it has no health service.",
              row.value == health ? 1 : 0, {{"status", std::string(row.name)}});
  }
  if (sessions) {
    out.Gauge("cachewarden_buildkit_sessions", "Build sessions connected (Earthly's fork's Info).",
              static_cast<double>(sessions->sessions));
    out.Gauge("cachewarden_buildkit_idle_seconds",
              "How long BuildKit has been without a build session (Earthly's fork's Info).",
              static_cast<double>(sessions->idle_seconds));
  }
  ExportEarthlyWorkerMetrics(workers, out);
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

namespace {

// `tls`: absent (or every file "") means none; else `ca` is required, `cert` and `key` go together.
std::optional<BuildkitTls> ReadTls(ConfigReader& section) {
  ConfigReader r = section.Object("tls");
  BuildkitTls tls;
  auto file = [&](std::string_view key, std::string* out) {
    *out = r.String(key, "");
    if (!out->empty() && !out->starts_with('/')) {
      r.Fail(key, fmt::format("expected an absolute path to a PEM file, got \"{}\"", *out));
    }
  };
  file("ca", &tls.ca);
  file("cert", &tls.cert);
  file("key", &tls.key);
  tls.server_name = r.String("server_name", "");
  r.Finish();
  if (tls == BuildkitTls{}) return std::nullopt;
  if (tls.ca.empty()) {
    r.Fail("ca", "required with tls: the CA that signed buildkitd's certificate (Earthly's tlsca)");
  }
  if (tls.cert.empty() != tls.key.empty()) {
    r.Fail(tls.cert.empty() ? "cert" : "key",
           "cert and key go together: the client certificate and its private key");
  }
  return tls;
}

}  // namespace

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
  o.process = section.String("process", o.process);
  if (std::optional<BuildkitTls> tls = ReadTls(section)) {
    // Every tcp:// address then speaks mTLS: never plaintext once TLS is configured.
    for (auto& a : o.addresses) {
      if (a.kind == BuildkitAddress::Kind::kTcp) a.tls = tls;
    }
  }
  return o;
}

std::unique_ptr<Probe> NewBuildkitProbe(const BuildkitOptions& options) {
  return std::make_unique<BuildkitProbe>(options);
}

}  // namespace cachewarden
