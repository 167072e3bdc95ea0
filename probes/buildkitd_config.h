#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cachewarden {

// What buildkitd was told about its listeners, by the flags of its command line and by its
// buildkitd.toml's [grpc] table (address, debugAddress, [grpc.tls] cert, key, ca), and about its
// GC, by the toml's worker tables (below). Pure parsers; nothing here reads a file, keeps state or
// throws (bar std::bad_alloc).

// The listener settings of buildkitd's command line (/proc/<pid>/cmdline, NUL-separated): `--addr`
// (repeatable), `--config`, `--tlscert`, `--tlskey`, `--tlscacert`, `--debugaddr`, each as
// `--flag value` or `--flag=value`, with one dash or two (urfave/cli takes both). Unknown flags
// are skipped. Values are cut to kMaxConfigValue bytes, valid UTF-8; at most kMaxAddresses
// addresses are kept.
struct BuildkitdFlags {
  std::vector<std::string> addresses;
  std::string config;  // "" not given
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string debug_address;
};
BuildkitdFlags ParseBuildkitdCmdline(std::string_view cmdline);

// The [grpc] table of a buildkitd.toml.
struct BuildkitdGrpcConfig {
  std::vector<std::string> addresses;
  std::string debug_address;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
};
// Parses `text` (TOML) into *out. A TOML syntax error is kParse with its line and column; a key of
// the wrong type (address not a list of strings) is kParse naming the key. Keys it does not know
// are ignored, as buildkitd's other tables are.
Status ParseBuildkitdToml(std::string_view text, BuildkitdGrpcConfig* out);

// The GC settings of a buildkitd.toml: the [worker.oci] and [worker.containerd] tables' gc,
// gckeepstorage, reservedSpace, maxUsedSpace, minFreeSpace and their [[...gcpolicy]] lists, read as
// BuildKit's cmd/buildkitd/config reads them.

// A disk-space value: an integer (bytes), a size string read like docker/go-units RAMInBytes
// (binary units, case-insensitive, an optional space: "512MB" = 512 MiB, "1.5GiB", "100k", "10 gb")
// or an integer percentage of the disk that holds buildkitd's root ("10%").
struct BuildkitdDiskSpace {
  bool set = false;         // the key was given (a zero value is given, and means "no limit")
  bool is_percent = false;  // `percent` holds the value, else `bytes`
  std::uint64_t bytes = 0;
  std::uint64_t percent = 0;
  // The value in bytes for a disk of `disk_bytes` bytes; nullopt when not set, and for a
  // percentage when disk_bytes is 0 (unknown).
  std::optional<std::uint64_t> Resolve(std::uint64_t disk_bytes) const;
};

// One [[worker.<w>.gcpolicy]] table.
struct BuildkitdGcPolicy {
  bool all = false;
  std::vector<std::string> filters;  // at most kMaxGcFilters
  // keepDuration: a Go duration ("48h", "1h30m", "90s", truncated to whole seconds) or an integer
  // (or integer string) of seconds; 0 when not given.
  std::int64_t keep_duration_seconds = 0;
  BuildkitdDiskSpace keep_bytes;  // keepBytes: BuildKit's deprecated name for reservedSpace
  BuildkitdDiskSpace reserved_space;
  BuildkitdDiskSpace max_used_space;
  BuildkitdDiskSpace min_free_space;
};

// One worker's GC settings: [worker.oci] or [worker.containerd].
struct BuildkitdWorkerGc {
  std::string worker;  // "oci" or "containerd"
  std::optional<bool> enabled;
  std::optional<bool> gc;  // nullopt: not given (buildkitd's default is on)
  // gckeepstorage as an integer, as written. Its unit is ambiguous: upstream BuildKit reads an
  // integer disk space as BYTES, while Earthly's buildkitd.toml template writes MB
  // (`gckeepstorage = ${CACHE_SIZE_MB}`, "in MB" says its comment), so a consumer should weigh both
  // readings (BuildkitdGcCap has them).
  std::optional<std::int64_t> gckeepstorage_raw;
  // True when gckeepstorage_raw came from inside a [[gcpolicy]] table, not from the worker's own:
  // Earthly's template writes the key after the first `[[worker.oci.gcpolicy]]` header, so TOML
  // makes it a key of that policy, which buildkitd ignores. Recorded so that it can be reported;
  // never used for the cap. A worker's own gckeepstorage wins over a misplaced one.
  bool gckeepstorage_misplaced = false;
  // gckeepstorage given as a size or percentage string (BuildKit >= 0.13): unambiguous.
  BuildkitdDiskSpace gckeepstorage_space;
  // The worker-level settings of BuildKit >= 0.17, used when there is no gcpolicy.
  BuildkitdDiskSpace reserved_space;
  BuildkitdDiskSpace max_used_space;
  BuildkitdDiskSpace min_free_space;
  std::vector<BuildkitdGcPolicy> policies;  // in file order, at most kMaxGcPolicies
};

struct BuildkitdGcConfig {
  std::vector<BuildkitdWorkerGc> workers;  // those the file has a table for: oci, then containerd
};

inline constexpr std::size_t kMaxGcPolicies = 32;
inline constexpr std::size_t kMaxGcFilters = 32;

// Parses the GC settings of `text` (TOML) into *out. A TOML syntax error is kParse with its line
// and column; a key of the wrong type is kParse naming the key, policies counted from 0
// ("worker.oci.gcpolicy[1].keepBytes: expected an integer, a size like "10GB" or a
// percentage"). Unknown keys are ignored; policies past kMaxGcPolicies and filters past
// kMaxGcFilters are dropped; strings are cut to kMaxConfigValue bytes.
Status ParseBuildkitdGcToml(std::string_view text, BuildkitdGcConfig* out);

// The most the GC lets the cache grow to, as buildkitd's config sets it.
struct BuildkitdGcCap {
  std::string worker;  // whose setting it is
  // "gcpolicy" (the largest policy's), or the worker-level key it came from when there is no
  // gcpolicy: "gckeepstorage", "reservedSpace", "maxUsedSpace".
  std::string source;
  // In bytes, with an integer gckeepstorage read as bytes (upstream BuildKit).
  std::uint64_t bytes = 0;
  // In bytes, with an integer gckeepstorage read as MiB (Earthly's template); equal to `bytes`
  // unless the cap is an integer gckeepstorage.
  std::uint64_t bytes_if_mb = 0;

  // One reading where the config alone cannot say which it is: an integer gckeepstorage below
  // kGcKeepStorageMbBelow is MB (no build cache is capped below 16 MiB, and Earthly's CACHE_SIZE_MB
  // values are this small), a larger one bytes.
  std::uint64_t Guessed() const;
};

inline constexpr std::uint64_t kGcKeepStorageMbBelow = std::uint64_t{1} << 24;

// The effective GC cap for a disk of `disk_bytes` bytes (the filesystem of buildkitd's root; 0:
// unknown). Per worker that is enabled and whose gc is not off: with gcpolicy, the largest over
// the policies of max(reservedSpace or else keepBytes, maxUsedSpace); without, max(gckeepstorage or
// else reservedSpace, maxUsedSpace) of the worker. Percentages are resolved against disk_bytes;
// zero values are no limit; minFreeSpace is not a cap (it depends on what else fills the disk).
// Across workers the one with the largest `bytes`. nullopt when the config sets no cap (buildkitd
// then applies its built-in defaults) or when a percentage is needed and disk_bytes is 0.
std::optional<BuildkitdGcCap> BuildkitdGcCapFor(const BuildkitdGcConfig& config,
                                                std::uint64_t disk_bytes);

// Where buildkitd reads its config when no --config is given (running as root).
inline constexpr std::string_view kDefaultBuildkitdConfig = "/etc/buildkit/buildkitd.toml";
inline constexpr std::size_t kMaxConfigValue = 1024;
inline constexpr std::size_t kMaxAddresses = 8;

// What buildkitd listens on, flags over its config file as buildkitd applies them: --addr
// replaces [grpc] address, each --tls* and --debugaddr its key. `source` says where the addresses
// came from: "--addr", "buildkitd.toml", or "" (neither: buildkitd's default unix socket).
struct BuildkitdListen {
  std::vector<std::string> addresses;
  std::string source;
  std::string tls_cert;
  std::string tls_ca;
  std::string debug_address;
};
BuildkitdListen MergeBuildkitdListen(const BuildkitdFlags& flags, const BuildkitdGrpcConfig& file);

// The address to probe from outside for one buildkitd listens on: tcp://0.0.0.0:P and tcp://:P
// (all interfaces) become tcp://127.0.0.1:P, tcp://[::]:P becomes tcp://[::1]:P; another tcp://
// address is kept; "" for what is not TCP (unix://, fd://, npipe://).
std::string ProbeAddressFor(std::string_view listen);

// The port of a debugAddress (`0.0.0.0:6060`, `:6060`, `[::]:6060`, `localhost:6060`); 0 when it
// has none or it is not 1..65535.
int DebugAddressPort(std::string_view debug_address);

}  // namespace cachewarden
