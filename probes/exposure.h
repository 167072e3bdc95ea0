#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config_reader.h"
#include "probes/buildkitd_config.h"
#include "probes/cert_info.h"
#include "probes/endpoint_handshake.h"
#include "probes/probe.h"

namespace cachewarden {

// The `exposure` probe: how open buildkitd's TCP door is. For each `probes.exposure.address` it
// finds, with bounded handshakes and never a build request, whether the endpoint speaks TLS or
// plaintext h2c gRPC, whether TLS lets in a client without a certificate, and which certificate it
// serves (compared with `cert_file` on disk: buildkitd cannot reload a renewed certificate,
// moby/buildkit#2172). It reads the expiry of the CA and client certificate files the clients use,
// and, from the buildkitd process's /proc/<pid>/net/tcp and tcp6, whether the BuildKit ports are
// bound on all interfaces and whether the debug (pprof) port listens. Off by default, like the
// buildkit probe. An endpoint that cannot be judged (refused, silent) is reported with its reason,
// not as a failed run: the other addresses and the bind check still count.

struct EndpointExposure {
  std::string address;  // as probed: tcp://host:port
  // "configured", or where discovery found it: "--addr", "buildkitd.toml".
  std::string source = "configured";
  std::string listen;  // discovered: the address as buildkitd listens on it (tcp://0.0.0.0:8372)
  Status status;       // why it could not be judged; ok when `handshake` holds
  HandshakeResult handshake;
  // With cert_file configured and both certificates known: they differ (by SHA-256 of the DER).
  bool reload_pending = false;
  // Since when they differ: the earlier of the file's mtime and the first run that saw them differ.
  SystemTime differs_since{};
  bool judged() const { return status.ok(); }
};

// A certificate file read from disk: `role` is "server" (cert_file: what buildkitd would serve
// after a restart), "ca" or "client".
struct CertFileExposure {
  std::string path;  // the file read
  std::string role;
  Status status;
  std::optional<CertInfo> cert;  // the certificate of the file that expires first
  // A discovered file as buildkitd names it (/etc/cert.pem, read as /proc/<pid>/root/etc/cert.pem);
  // "" for a configured one.
  std::string label;
  // The metrics' `file` label and the texts' name of the file.
  const std::string& name() const { return label.empty() ? path : label; }
  SystemTime mtime{};  // when the file was written; {} if unknown
};

// One port of interest as buildkitd's network namespace has it.
struct PortExposure {
  int port = 0;
  bool listening = false;
  bool all_interfaces = false;     // a listener on 0.0.0.0, :: or ::ffff:0.0.0.0
  std::vector<std::string> bound;  // the addresses listening, "127.0.0.1", "::"
};

// What the probe learnt from buildkitd's own command line and buildkitd.toml (`discover`).
struct ExposureDiscovery {
  bool ran = false;         // discover on and the process found
  std::string config_path;  // the buildkitd.toml looked at, as buildkitd names it
  std::string config_read;  // the file read (through /proc/<pid>/root); "" when none was
  std::string error;        // why the command line or the config could not be read; "" if fine
  BuildkitdListen listen;   // what buildkitd listens on, and its TLS files, as it names them
  // The GC settings of the config read (unset: none read, or gc_error), and their cap for a disk
  // of gc_disk_bytes (the cache volume's size; 0 before the volume probe has run).
  std::optional<BuildkitdGcConfig> gc;
  std::string gc_error;
  std::optional<BuildkitdGcCap> gc_cap;
  std::uint64_t gc_disk_bytes = 0;
};

struct ExposureData : ProbeData {
  static constexpr std::string_view kProbe = "exposure";
  SystemTime collected{};
  ExposureDiscovery discovery;
  std::vector<EndpointExposure> endpoints;
  std::optional<CertFileExposure> disk_cert;
  std::vector<CertFileExposure> cert_files;  // ca_file, then client_cert_file
  // The bind check: the process whose network namespace was read, or why there is none.
  int pid = 0;
  std::string process_error;
  std::vector<PortExposure> buildkit_ports;
  std::optional<PortExposure> debug_port;  // unset: debug_port 0, or no process

  nlohmann::json ToJson() const override;
  void ExportMetrics(MetricWriter& out) const override;
};

struct ExposureAddress {
  std::string text;  // tcp://host:port
  std::string host;  // without brackets
  int port = 0;
  bool operator==(const ExposureAddress&) const = default;
};

// Parses tcp://host:port (IPv6 as tcp://[::1]:8372); false and a reason otherwise.
bool ParseExposureAddress(std::string_view text, ExposureAddress* out, std::string* error);

// `probes.exposure`: see docs/config.md.
struct ExposureOptions {
  std::vector<ExposureAddress> addresses;
  Duration handshake_timeout = std::chrono::seconds(3);
  std::string cert_file;  // "" none
  std::vector<std::string> ca_files;
  std::vector<std::string> client_cert_files;
  std::string process = "buildkitd";   // a /proc/<pid>/comm name, or a pid
  int debug_port = 6060;               // 0: not checked
  bool debug_port_configured = false;  // `debug_port` given: discovery does not replace it
  // Also probe the TCP addresses buildkitd's command line and buildkitd.toml name, and, unless
  // configured, take cert_file, ca_file and debug_port from them (through /proc/<pid>/root).
  bool discover = true;
  bool operator==(const ExposureOptions&) const = default;
};

// Throws ConfigError for an address that is not tcp://host:port, an empty list, a relative path.
ExposureOptions ReadExposureOptions(ConfigReader& section);
std::unique_ptr<Probe> NewExposureProbe(const ExposureOptions& options);

// The pid of the first process under `proc_root` whose comm is `process` (or `process` itself when
// it is a number and that pid exists); 0 and *error when none.
int FindProcess(const std::string& proc_root, const std::string& process, std::string* error);

}  // namespace cachewarden
