#include "probes/exposure.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "base/host_port.h"
#include "fs/proc_net_tcp.h"
#include "fs/read_file.h"
#include "probes/log_config_block.h"
#include "probes/volume.h"

namespace cachewarden {
namespace {

constexpr std::size_t kMaxProcNetBytes = 16 << 20;  // a busy namespace has many sockets
constexpr std::size_t kMaxCommBytes = 64;
constexpr std::size_t kMaxCmdlineBytes = 128 << 10;
constexpr std::size_t kMaxConfigBytes = 1 << 20;  // buildkitd.toml
constexpr double kSecondsPerDay = 86400;

SystemTime MtimeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return SystemTime{};
  return ToSystemTime(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

CertFileExposure ReadCertFile(const std::string& path, std::string role) {
  CertFileExposure f;
  f.path = path;
  f.role = std::move(role);
  std::vector<CertInfo> certs;
  f.status = ReadPemCertificates(path, &certs);
  if (f.status.ok()) f.cert = EarliestExpiry(certs);
  f.mtime = MtimeOf(path);
  return f;
}

// Certificates larger than this are not certificates buildkitd serves.
constexpr std::size_t kMaxPemBytes = 1 << 20;

// A certificate file as the process whose root is `root` sees `name` (confined to that root).
CertFileExposure ReadCertFileInRoot(const std::string& root, const std::string& name,
                                    std::string role) {
  CertFileExposure f;
  f.path = root + name;
  f.label = name;
  f.role = std::move(role);
  std::string pem;
  struct stat st {};
  f.status = ReadSmallFileInRoot(root, name, &pem, kMaxPemBytes, &st);
  if (!f.status.ok()) return f;
  f.mtime = ToSystemTime(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  std::vector<CertInfo> certs;
  f.status = ParsePemCertificates(pem, f.path, &certs);
  if (f.status.ok()) f.cert = EarliestExpiry(certs);
  return f;
}

std::vector<PortExposure> PortsOf(const std::vector<TcpSocket>& sockets,
                                  const std::set<int>& want) {
  std::vector<PortExposure> out;
  for (int port : want) {
    PortExposure p;
    p.port = port;
    for (const auto& s : sockets) {
      if (s.state != kTcpListen || s.port != port) continue;
      p.listening = true;
      p.all_interfaces = p.all_interfaces || s.scope == BindScope::kAllInterfaces;
      p.bound.push_back(s.address);
    }
    out.push_back(std::move(p));
  }
  return out;
}

class ExposureProbe : public Probe {
 public:
  explicit ExposureProbe(ExposureOptions options) : options_(std::move(options)) {}
  std::string_view name() const override { return ExposureData::kProbe; }

  Status Collect(const ProbeContext& ctx, std::shared_ptr<const ProbeData>* out) override {
    auto data = std::make_shared<ExposureData>();
    data->collected = ctx.Now();
    data->pid = FindProcess(ctx.proc_root, options_.process, &data->process_error);
    if (options_.discover && data->pid != 0) Discover(ctx, data.get());
    ReadCertFiles(ctx, data.get());
    const auto timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.handshake_timeout);
    const std::vector<Target> targets = Targets(data->discovery);
    for (const auto& t : targets) {
      if (ctx.Cancelled()) {
        return Status::Error(StatusCode::kCancelled, "stopped before probing " + t.address.text);
      }
      EndpointExposure e;
      e.address = t.address.text;
      e.source = t.source;
      e.listen = t.listen;
      e.status = ProbeEndpoint(t.address.host, t.address.port, timeout, &e.handshake);
      ComparePending(ctx, &e, data->disk_cert);
      data->endpoints.push_back(std::move(e));
    }
    ReadBinds(ctx, targets, data.get());
    *out = std::move(data);
    return Status::Ok();
  }

 private:
  // Served and on-disk certificates differ: a renewal buildkitd has not loaded (it reads them only
  // at start). Since when is kept across runs, and bounded by the file's mtime, so that a one-shot
  // `check` knows it too.
  void ComparePending(const ProbeContext& ctx, EndpointExposure* e,
                      const std::optional<CertFileExposure>& disk) {
    const bool known = e->judged() && e->handshake.served && disk && disk->cert;
    if (!known || disk->cert->sha256 == e->handshake.served->sha256) {
      if (known) first_differ_.erase(e->address);
      return;
    }
    auto [it, fresh] = first_differ_.emplace(e->address, ctx.Now());
    e->reload_pending = true;
    e->differs_since = disk->mtime != SystemTime{} ? std::min(it->second, disk->mtime) : it->second;
  }

  struct Target {
    ExposureAddress address;
    std::string source;
    std::string listen;
  };

  // The configured addresses, then the TCP ones buildkitd listens on that are not among them, each
  // as the agent reaches it (all interfaces: loopback).
  std::vector<Target> Targets(const ExposureDiscovery& d) const {
    std::vector<Target> out;
    for (const auto& a : options_.addresses) out.push_back({a, "configured", ""});
    for (const auto& listen : d.listen.addresses) {
      ExposureAddress a;
      std::string error;
      if (!ParseExposureAddress(ProbeAddressFor(listen), &a, &error)) continue;  // unix://, fd://
      auto same = std::find_if(out.begin(), out.end(),
                               [&](const Target& t) { return t.address.text == a.text; });
      if (same != out.end()) {
        if (same->listen.empty()) same->listen = listen;
        continue;
      }
      out.push_back({std::move(a), d.listen.source, listen});
    }
    return out;
  }

  // buildkitd's command line and the buildkitd.toml it reads (through its own root: another mount
  // namespace names its files differently). A missing default config is no error: buildkitd runs
  // without one.
  void Discover(const ProbeContext& ctx, ExposureData* data) const {
    ExposureDiscovery& d = data->discovery;
    d.ran = true;
    const std::string dir = fmt::format("{}/{}", ctx.proc_root, data->pid);
    std::string cmdline;
    if (Status s = ReadSmallFile(dir + "/cmdline", &cmdline, kMaxCmdlineBytes); !s.ok()) {
      d.error = s.ToString();
      return;
    }
    const BuildkitdFlags flags = ParseBuildkitdCmdline(cmdline);
    d.config_path = flags.config.empty() ? std::string(kDefaultBuildkitdConfig) : flags.config;
    BuildkitdGrpcConfig file;
    if (!d.config_path.starts_with('/')) {
      d.error =
          fmt::format("--config {} is relative to buildkitd's directory: not read", d.config_path);
    } else {
      const std::string path = dir + "/root" + d.config_path;
      std::string text;
      Status s = ReadSmallFileInRoot(dir + "/root", d.config_path, &text, kMaxConfigBytes);
      if (s.ok()) {
        d.config_read = path;
        s = ParseBuildkitdToml(text, &file);
        if (!s.ok()) d.error = fmt::format("{}: {}", path, s.message());
        ReadGc(ctx, text, &d);
      } else if (s.code() != StatusCode::kMissing || !flags.config.empty()) {
        d.error = s.ToString();
      }
    }
    d.listen = MergeBuildkitdListen(flags, file);
  }

  // The GC settings of the same file (the cap buildkitd applies when BuildKit itself does not
  // answer). buildkitd resolves a percentage against the disk of its root: the cache volume.
  static void ReadGc(const ProbeContext& ctx, std::string_view text, ExposureDiscovery* d) {
    BuildkitdGcConfig gc;
    if (Status s = ParseBuildkitdGcToml(text, &gc); !s.ok()) {
      d->gc_error = fmt::format("{}: {}", d->config_read, s.message());
      return;
    }
    auto volume = ctx.previous ? ctx.previous->Get<VolumeData>() : nullptr;
    d->gc_disk_bytes = volume ? volume->size_bytes : 0;
    d->gc_cap = BuildkitdGcCapFor(gc, d->gc_disk_bytes);
    d->gc = std::move(gc);
  }

  // The configured certificate files; where none is configured, the ones buildkitd was started
  // with, read through its root and labelled as buildkitd names them.
  void ReadCertFiles(const ProbeContext& ctx, ExposureData* data) const {
    const ExposureDiscovery& d = data->discovery;
    auto discovered = [&](const std::string& name, std::string role) {
      CertFileExposure f;
      if (!name.starts_with('/')) {
        f.path = name;
        f.role = std::move(role);
        f.status = Status::Error(StatusCode::kInvalid,
                                 fmt::format("{} is relative to buildkitd's directory", name));
        return f;
      }
      return ReadCertFileInRoot(fmt::format("{}/{}/root", ctx.proc_root, data->pid), name,
                                std::move(role));
    };
    if (!options_.cert_file.empty()) {
      data->disk_cert = ReadCertFile(options_.cert_file, "server");
    } else if (d.ran && !d.listen.tls_cert.empty()) {
      data->disk_cert = discovered(d.listen.tls_cert, "server");
    }
    for (const auto& path : options_.ca_files) data->cert_files.push_back(ReadCertFile(path, "ca"));
    if (options_.ca_files.empty() && d.ran && !d.listen.tls_ca.empty()) {
      data->cert_files.push_back(discovered(d.listen.tls_ca, "ca"));
    }
    for (const auto& path : options_.client_cert_files) {
      data->cert_files.push_back(ReadCertFile(path, "client"));
    }
  }

  void ReadBinds(const ProbeContext& ctx, const std::vector<Target>& targets,
                 ExposureData* data) const {
    if (data->pid == 0) return;
    std::vector<TcpSocket> sockets;
    for (const char* table : {"tcp", "tcp6"}) {
      std::string text;
      const std::string path = fmt::format("{}/{}/net/{}", ctx.proc_root, data->pid, table);
      // A kernel without IPv6 has no tcp6: that is no listener, not an error.
      if (Status s = ReadSmallFile(path, &text, kMaxProcNetBytes); !s.ok()) {
        if (s.code() != StatusCode::kMissing) data->process_error = s.ToString();
        continue;
      }
      auto part = ParseProcNetTcp(text);
      sockets.insert(sockets.end(), part.begin(), part.end());
    }
    std::set<int> ports;
    for (const auto& t : targets) ports.insert(t.address.port);
    data->buildkit_ports = PortsOf(sockets, ports);
    int debug_port = options_.debug_port;
    if (const int found = DebugAddressPort(data->discovery.listen.debug_address);
        found != 0 && !options_.debug_port_configured) {
      debug_port = found;
    }
    if (debug_port != 0) data->debug_port = PortsOf(sockets, {debug_port}).front();
  }

  ExposureOptions options_;
  std::map<std::string, SystemTime> first_differ_;  // by address
};

nlohmann::json CertJson(const CertInfo& c, SystemTime now) {
  return {{"subject", c.subject},
          {"issuer", c.issuer},
          {"sans", c.sans},
          {"not_after", Rfc3339(c.not_after)},
          {"days_left", std::floor(ToSeconds(c.not_after - now) / kSecondsPerDay * 10) / 10},
          {"sha256", c.sha256}};
}

nlohmann::json FileJson(const CertFileExposure& f, SystemTime now) {
  nlohmann::json j = {{"path", f.name()}, {"role", f.role}};
  if (!f.label.empty()) j["read_as"] = f.path;
  if (f.cert) {
    j["certificate"] = CertJson(*f.cert, now);
  } else {
    j["error"] = f.status.ToString();
  }
  return j;
}

nlohmann::json PortJson(const PortExposure& p) {
  return {{"port", p.port},
          {"listening", p.listening},
          {"all_interfaces", p.all_interfaces},
          {"bound", p.bound}};
}

}  // namespace

nlohmann::json ExposureData::ToJson() const {
  nlohmann::json eps = nlohmann::json::array();
  for (const auto& e : endpoints) {
    nlohmann::json j = {{"address", e.address}, {"source", e.source}};
    if (!e.listen.empty()) j["listen"] = e.listen;
    if (!e.judged()) {
      j["error"] = e.status.ToString();
    } else {
      const auto& h = e.handshake;
      j["transport"] = h.transport == Transport::kTls ? "tls" : "plaintext";
      if (h.transport == Transport::kTls) {
        j["tls_version"] = h.tls_version;
        j["client_cert_required"] = h.client_cert_required;
        if (!h.alert.empty()) j["alert"] = h.alert;
        if (h.served) j["served_certificate"] = CertJson(*h.served, collected);
      }
      if (disk_cert && h.served) {
        j["reload_pending"] = e.reload_pending;
        if (e.reload_pending) j["differs_since"] = Rfc3339(e.differs_since);
      }
    }
    eps.push_back(std::move(j));
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : cert_files) files.push_back(FileJson(f, collected));
  nlohmann::json j = {{"endpoints", std::move(eps)}, {"cert_files", std::move(files)}};
  if (disk_cert) j["cert_file"] = FileJson(*disk_cert, collected);
  nlohmann::json proc = {{"pid", pid}};
  if (!process_error.empty()) proc["error"] = process_error;
  if (pid != 0) {
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& p : buildkit_ports) ports.push_back(PortJson(p));
    proc["buildkit_ports"] = std::move(ports);
    if (debug_port) proc["debug_port"] = PortJson(*debug_port);
  }
  j["process"] = std::move(proc);
  if (discovery.ran) {
    const BuildkitdListen& l = discovery.listen;
    nlohmann::json d = {{"config", discovery.config_path},
                        {"listen", l.addresses},
                        {"listen_source", l.source.empty() ? "default" : l.source}};
    if (!discovery.config_read.empty()) d["config_read"] = discovery.config_read;
    if (!discovery.error.empty()) d["error"] = discovery.error;
    if (!l.tls_cert.empty()) d["tls_cert"] = l.tls_cert;
    if (!l.tls_ca.empty()) d["tls_ca"] = l.tls_ca;
    if (!l.debug_address.empty()) d["debug_address"] = l.debug_address;
    if (discovery.gc) {
      d["gc"] = GcConfigJson(*discovery.gc);
      d["gc_cap"] = GcCapJson(discovery.gc_cap);
      d["gc_disk_bytes"] = discovery.gc_disk_bytes;
    }
    if (!discovery.gc_error.empty()) d["gc_error"] = discovery.gc_error;
    j["discovery"] = std::move(d);
  }
  return j;
}

void ExposureData::ExportMetrics(MetricWriter& out) const {
  for (const auto& e : endpoints) {
    out.Gauge("cachewarden_buildkit_endpoint_up",
              "1 when the BuildKit TCP address answered the exposure probe's handshake (TLS or "
              "h2c), 0 when it refused, was silent or answered neither.",
              e.judged() ? 1 : 0, {{"address", e.address}});
  }
  for (const auto& e : endpoints) {
    if (!e.judged()) continue;
    out.Gauge("cachewarden_buildkit_endpoint_tls",
              "1 when the BuildKit TCP address speaks TLS, 0 when it serves plaintext h2c gRPC "
              "(anyone who reaches it can run builds).",
              e.handshake.transport == Transport::kTls ? 1 : 0, {{"address", e.address}});
  }
  for (const auto& e : endpoints) {
    if (!e.judged() || e.handshake.transport != Transport::kTls) continue;
    out.Gauge("cachewarden_buildkit_client_cert_required",
              "1 when the BuildKit TLS address refused a client without a certificate (mTLS), 0 "
              "when it completed the handshake with one.",
              e.handshake.client_cert_required ? 1 : 0, {{"address", e.address}});
  }
  for (const auto& e : endpoints) {
    if (!e.judged() || !e.handshake.served) continue;
    out.Gauge("cachewarden_buildkit_cert_expiry_timestamp_seconds",
              "notAfter of the certificate the BuildKit TLS address serves.",
              ToUnixSeconds(e.handshake.served->not_after), {{"address", e.address}});
  }
  for (const auto& e : endpoints) {
    if (!e.judged() || !e.handshake.served || !disk_cert || !disk_cert->cert) continue;
    out.Gauge("cachewarden_buildkit_cert_reload_pending_seconds",
              "How long the certificate file on disk has differed from the one the address serves "
              "(a renewal buildkitd has not loaded: restart it); 0 when they are the same.",
              e.reload_pending ? std::max(0.0, ToSeconds(collected - e.differs_since)) : 0,
              {{"address", e.address}});
  }
  std::vector<const CertFileExposure*> files;
  if (disk_cert) files.push_back(&*disk_cert);
  for (const auto& f : cert_files) files.push_back(&f);
  for (const auto* f : files) {
    if (!f->cert) continue;
    out.Gauge("cachewarden_buildkit_cert_file_expiry_timestamp_seconds",
              "notAfter of the certificate of a configured file that expires first: the server's "
              "on disk (role server), the CA and client certificates the clients use.",
              ToUnixSeconds(f->cert->not_after), {{"file", f->name()}, {"role", f->role}});
  }
  for (const auto* f : files) {
    out.Gauge("cachewarden_buildkit_cert_file_readable",
              "1 when the configured certificate file holds a PEM certificate the probe read.",
              f->cert ? 1 : 0, {{"file", f->name()}, {"role", f->role}});
  }
  for (const auto& p : buildkit_ports) {
    if (!p.listening) continue;
    out.Gauge("cachewarden_buildkit_listen_all_interfaces",
              "1 when buildkitd's TCP port listens on all interfaces (0.0.0.0 or ::) of its "
              "network namespace, 0 when only on loopback or one address.",
              p.all_interfaces ? 1 : 0, {{"port", std::to_string(p.port)}});
  }
  if (discovery.gc_cap) {
    constexpr std::string_view kCapHelp =
        "The GC cap of buildkitd's config file (read through /proc/<pid>/root), in bytes, for the "
        "cache volume's size, as the logged one (cachewarden_buildkitd_logged_gc_cap_bytes): an "
        "integer gckeepstorage is bytes to BuildKit (reading=\"bytes\") and MB in Earthly's "
        "template (reading=\"mb\"); otherwise the two are equal.";
    out.Gauge("cachewarden_buildkitd_config_gc_cap_bytes", kCapHelp,
              static_cast<double>(discovery.gc_cap->bytes), {{"reading", "bytes"}});
    out.Gauge("cachewarden_buildkitd_config_gc_cap_bytes", kCapHelp,
              static_cast<double>(discovery.gc_cap->bytes_if_mb), {{"reading", "mb"}});
  }
  if (debug_port) {
    out.Gauge("cachewarden_buildkit_debug_port_open",
              "1 when the debug (pprof) port listens in buildkitd's network namespace: it needs "
              "no authentication.",
              debug_port->listening ? 1 : 0, {{"port", std::to_string(debug_port->port)}});
  }
}

bool ParseExposureAddress(std::string_view text, ExposureAddress* out, std::string* error) {
  constexpr std::string_view kScheme = "tcp://";
  auto fail = [&](std::string_view why) {
    *error = fmt::format("\"{}\": {} (tcp://host:port, tcp://[::1]:8372)", text, why);
    return false;
  };
  if (!text.starts_with(kScheme)) return fail("not a TCP address");
  std::string why;
  const auto hp = SplitHostPort(text.substr(kScheme.size()), 1, &why);
  if (!hp) return fail(why);
  if (hp->host.empty()) return fail("no host");
  out->text = std::string(text);
  out->host = std::string(hp->host);
  out->port = hp->port;
  return true;
}

int FindProcess(const std::string& proc_root, const std::string& process, std::string* error) {
  int pid = 0;
  auto [end, ec] = std::from_chars(process.data(), process.data() + process.size(), pid);
  if (ec == std::errc() && end == process.data() + process.size()) {
    struct stat st {};
    if (pid > 0 && stat(fmt::format("{}/{}", proc_root, pid).c_str(), &st) == 0) return pid;
    *error = fmt::format("no process {} under {}", process, proc_root);
    return 0;
  }
  DIR* dir = opendir(proc_root.c_str());
  if (dir == nullptr) {
    *error = PosixError("opendir", proc_root, errno).ToString();
    return 0;
  }
  int found = 0;
  while (const dirent* d = readdir(dir)) {
    int candidate = 0;
    const std::string_view name = d->d_name;
    auto [e, c] = std::from_chars(name.data(), name.data() + name.size(), candidate);
    if (c != std::errc() || e != name.data() + name.size() || candidate <= 0) continue;
    std::string comm;
    if (!ReadSmallFile(fmt::format("{}/{}/comm", proc_root, candidate), &comm, kMaxCommBytes)
             .ok()) {
      continue;
    }
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    // The lowest pid: buildkitd's own, not a child it forked under the same name.
    if (comm == process && (found == 0 || candidate < found)) found = candidate;
  }
  closedir(dir);
  if (found == 0) *error = fmt::format("no process named {} under {}", process, proc_root);
  return found;
}

ExposureOptions ReadExposureOptions(ConfigReader& section) {
  ExposureOptions o;
  const auto texts = section.StringList("address", {"tcp://127.0.0.1:8372"});
  if (texts.empty()) section.Fail("address", "needs at least one address");
  std::set<std::string> seen;
  for (const auto& t : texts) {
    ExposureAddress a;
    std::string error;
    if (!ParseExposureAddress(t, &a, &error)) section.Fail("address", error);
    if (!seen.insert(t).second) section.Fail("address", fmt::format("\"{}\" is listed twice", t));
    o.addresses.push_back(std::move(a));
  }
  o.handshake_timeout = section.Dur("handshake_timeout", o.handshake_timeout,
                                    std::chrono::milliseconds(10), std::chrono::minutes(1));
  auto absolute = [&](std::string_view key, const std::string& path) {
    if (!path.starts_with('/')) section.Fail(key, fmt::format("\"{}\" must be absolute", path));
  };
  o.cert_file = section.String("cert_file", "");
  if (!o.cert_file.empty()) absolute("cert_file", o.cert_file);
  o.ca_files = section.StringList("ca_file", {});
  for (const auto& p : o.ca_files) absolute("ca_file", p);
  o.client_cert_files = section.StringList("client_cert_file", {});
  for (const auto& p : o.client_cert_files) absolute("client_cert_file", p);
  o.process = section.String("process", o.process);
  if (o.process.empty()) section.Fail("process", "needs a process name or pid");
  o.debug_port_configured = section.Has("debug_port");
  o.debug_port = static_cast<int>(section.Int("debug_port", o.debug_port, 0, 65535));
  o.discover = section.Bool("discover", o.discover);
  return o;
}

std::unique_ptr<Probe> NewExposureProbe(const ExposureOptions& options) {
  return std::make_unique<ExposureProbe>(options);
}

}  // namespace cachewarden
