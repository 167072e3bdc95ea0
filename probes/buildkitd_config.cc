#include "probes/buildkitd_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "base/host_port.h"
#include "base/text.h"

namespace cachewarden {
namespace {

std::string Value(std::string_view v) { return SanitizeUtf8(v, kMaxConfigValue); }

void AddAddress(std::vector<std::string>* to, std::string_view v) {
  if (to->size() < kMaxAddresses) to->push_back(Value(v));
}

// The string at `key` of `table`, into *out; an error naming `where` if it is there but no string.
Status TakeString(const toml::table& table, std::string_view key, std::string_view where,
                  std::string* out) {
  const toml::node* n = table.get(key);
  if (n == nullptr) return Status::Ok();
  if (const auto* s = n->as_string()) {
    *out = Value(s->get());
    return Status::Ok();
  }
  return Status::Error(StatusCode::kParse, fmt::format("{}.{} must be a string", where, key));
}

// Parses `text` into *root; a syntax error is kParse with its line and column.
Status ParseToml(std::string_view text, toml::table* root) {
  try {
    *root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return Status::Error(StatusCode::kParse,
                         fmt::format("line {}, column {}: {}", e.source().begin.line,
                                     e.source().begin.column, Value(e.description())));
  }
  return Status::Ok();
}

Status WrongType(std::string_view where, std::string_view key, std::string_view expected,
                 const toml::node& n) {
  std::string got;
  if (const auto* s = n.as_string()) got = fmt::format(", got \"{}\"", Value(s->get()));
  return Status::Error(StatusCode::kParse,
                       fmt::format("{}.{}: expected {}{}", where, key, expected, got));
}

constexpr std::string_view kDiskSpaceExpected = "an integer, a size like \"10GB\" or a percentage";
constexpr std::string_view kDurationExpected = "an integer of seconds or a duration like \"48h\"";

// Digits with at most one '.', as a double; nullopt when there are none or on a stray character.
std::optional<double> DecimalNumber(std::string_view text) {
  if (text.empty() || text == "." || std::count(text.begin(), text.end(), '.') > 1) {
    return std::nullopt;
  }
  if (!std::all_of(text.begin(), text.end(),
                   [](char c) { return c == '.' || (c >= '0' && c <= '9'); })) {
    return std::nullopt;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// docker/go-units RAMInBytes: a number, an optional space, and an optional suffix b, or k/m/g/t/p
// alone or followed by b or ib, case-insensitive, all powers of 1024; truncated to whole bytes.
std::optional<std::uint64_t> RamInBytes(std::string_view text) {
  const auto last = text.find_last_of("0123456789. ");
  if (last == std::string_view::npos) return std::nullopt;
  std::string_view number = text.substr(0, text[last] == ' ' ? last : last + 1);
  std::string suffix(text.substr(last + 1));
  std::transform(suffix.begin(), suffix.end(), suffix.begin(), Lower);
  const auto value = DecimalNumber(number);
  if (!value) return std::nullopt;
  double scale = 1;
  if (!suffix.empty() && suffix != "b") {
    constexpr std::string_view kPrefixes = "kmgtp";
    const auto p = kPrefixes.find(suffix[0]);
    if (p == std::string_view::npos || suffix.size() > 3) return std::nullopt;
    if (suffix.size() == 2 && suffix[1] != 'b') return std::nullopt;
    if (suffix.size() == 3 && suffix.substr(1) != "ib") return std::nullopt;
    for (std::size_t i = 0; i <= p; ++i) scale *= 1024;
  }
  const double bytes = *value * scale;
  // Go's int64(float64) is undefined past 2^63: nothing buildkitd reads sensibly.
  if (bytes >= 9223372036854775808.0) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

// "10%": a non-negative integer percentage.
std::optional<std::uint64_t> Percentage(std::string_view digits) {
  if (digits.starts_with('+')) digits.remove_prefix(1);
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return v;
}

// BuildKit's DiskSpace.UnmarshalText: "" is not set, "N%" a percentage, else RAMInBytes.
std::optional<BuildkitdDiskSpace> DiskSpaceText(std::string_view text) {
  BuildkitdDiskSpace d;
  if (text.empty()) return d;
  d.set = true;
  if (text.ends_with('%')) {
    const auto p = Percentage(text.substr(0, text.size() - 1));
    if (!p) return std::nullopt;
    d.is_percent = true;
    d.percent = *p;
    return d;
  }
  const auto b = RamInBytes(text);
  if (!b) return std::nullopt;
  d.bytes = *b;
  return d;
}

Status TakeDiskSpace(const toml::table& table, std::string_view key, std::string_view where,
                     BuildkitdDiskSpace* out) {
  const toml::node* n = table.get(key);
  if (n == nullptr) return Status::Ok();
  if (const auto* i = n->as_integer(); i != nullptr && i->get() >= 0) {
    *out = {};
    out->set = true;
    out->bytes = static_cast<std::uint64_t>(i->get());
    return Status::Ok();
  }
  if (const auto* s = n->as_string()) {
    if (auto d = DiskSpaceText(s->get())) {
      *out = *d;
      return Status::Ok();
    }
  }
  return WrongType(where, key, kDiskSpaceExpected, *n);
}

// Go's time.ParseDuration, in whole seconds (truncated toward zero): an optional sign, then one or
// more decimal numbers each with a unit (ns, us, µs, ms, s, m, h); "0" alone is zero.
std::optional<std::int64_t> GoDurationSeconds(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return 0;
  if (text.empty()) return std::nullopt;
  constexpr std::pair<std::string_view, std::int64_t> kUnits[] = {
      {"ns", 1},         {"us", 1'000},        {"\u00b5s", 1'000},    {"\u03bcs", 1'000},
      {"ms", 1'000'000}, {"s", 1'000'000'000}, {"m", 60'000'000'000}, {"h", 3'600'000'000'000}};
  __extension__ using Wide = __int128;
  const Wide kMax = std::numeric_limits<std::int64_t>::max();  // Go's Duration is int64 ns
  Wide nanos = 0;
  while (!text.empty()) {
    std::size_t n = 0;
    while (n < text.size() && ((text[n] >= '0' && text[n] <= '9') || text[n] == '.')) ++n;
    const std::string_view number = text.substr(0, n);
    text.remove_prefix(n);
    std::size_t u = 0;
    while (u < text.size() && !(text[u] >= '0' && text[u] <= '9') && text[u] != '.') ++u;
    const std::string_view unit = text.substr(0, u);
    text.remove_prefix(u);
    const auto it = std::find_if(std::begin(kUnits), std::end(kUnits),
                                 [&](const auto& k) { return k.first == unit; });
    if (it == std::end(kUnits)) return std::nullopt;
    const auto dot = number.find('.');
    const std::string_view whole = number.substr(0, dot);
    const std::string_view fraction =
        dot == std::string_view::npos ? std::string_view() : number.substr(dot + 1);
    if ((whole.empty() && fraction.empty()) || fraction.find('.') != std::string_view::npos) {
      return std::nullopt;
    }
    Wide w = 0;
    for (char c : whole) {
      w = w * 10 + (c - '0');
      if (w > kMax) return std::nullopt;
    }
    Wide numerator = 0, denominator = 1;
    for (char c : fraction.substr(0, 18)) {
      numerator = numerator * 10 + (c - '0');
      denominator *= 10;
    }
    nanos += w * it->second + numerator * it->second / denominator;
    if (nanos > kMax) return std::nullopt;
  }
  const auto seconds = static_cast<std::int64_t>(nanos / 1'000'000'000);
  return negative ? -seconds : seconds;
}

// BuildKit's Duration.UnmarshalText: a Go duration, else an integer of seconds.
Status TakeDuration(const toml::table& table, std::string_view key, std::string_view where,
                    std::int64_t* seconds) {
  const toml::node* n = table.get(key);
  if (n == nullptr) return Status::Ok();
  if (const auto* i = n->as_integer()) {
    *seconds = i->get();
    return Status::Ok();
  }
  if (const auto* s = n->as_string()) {
    const std::string_view text = s->get();
    if (text.empty()) return Status::Ok();
    if (auto d = GoDurationSeconds(text)) {
      *seconds = *d;
      return Status::Ok();
    }
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && ptr == text.data() + text.size()) {
      *seconds = v;
      return Status::Ok();
    }
  }
  return WrongType(where, key, kDurationExpected, *n);
}

Status TakeBool(const toml::table& table, std::string_view key, std::string_view where,
                std::optional<bool>* out) {
  const toml::node* n = table.get(key);
  if (n == nullptr) return Status::Ok();
  if (const auto* b = n->as_boolean()) {
    *out = b->get();
    return Status::Ok();
  }
  return WrongType(where, key, "true or false", *n);
}

Status TakeFilters(const toml::table& table, std::string_view where,
                   std::vector<std::string>* out) {
  const toml::node* n = table.get("filters");
  if (n == nullptr) return Status::Ok();
  const toml::array* list = n->as_array();
  if (list == nullptr) return WrongType(where, "filters", "a list of strings", *n);
  for (const toml::node& item : *list) {
    const auto* s = item.as_string();
    if (s == nullptr) return WrongType(where, "filters", "a list of strings", item);
    if (out->size() < kMaxGcFilters) out->push_back(Value(s->get()));
  }
  return Status::Ok();
}

Status ReadPolicy(const toml::table& table, std::string_view where, BuildkitdGcPolicy* p,
                  BuildkitdWorkerGc* worker) {
  std::optional<bool> all;
  if (Status s = TakeBool(table, "all", where, &all); !s.ok()) return s;
  p->all = all.value_or(false);
  if (Status s = TakeFilters(table, where, &p->filters); !s.ok()) return s;
  if (Status s = TakeDuration(table, "keepDuration", where, &p->keep_duration_seconds); !s.ok()) {
    return s;
  }
  for (auto [key, target] :
       {std::pair{"keepBytes", &p->keep_bytes}, std::pair{"reservedSpace", &p->reserved_space},
        std::pair{"maxUsedSpace", &p->max_used_space},
        std::pair{"minFreeSpace", &p->min_free_space}}) {
    if (Status s = TakeDiskSpace(table, key, where, target); !s.ok()) return s;
  }
  // Not a policy key: the worker's, misplaced by a table header above it (buildkitd ignores it).
  if (const toml::node* n = table.get("gckeepstorage");
      n != nullptr && n->is_integer() && !worker->gckeepstorage_raw) {
    worker->gckeepstorage_raw = n->as_integer()->get();
    worker->gckeepstorage_misplaced = true;
  }
  return Status::Ok();
}

Status ReadWorker(const toml::table& table, std::string_view name, BuildkitdWorkerGc* w) {
  const std::string where = fmt::format("worker.{}", name);
  w->worker = std::string(name);
  if (Status s = TakeBool(table, "enabled", where, &w->enabled); !s.ok()) return s;
  if (Status s = TakeBool(table, "gc", where, &w->gc); !s.ok()) return s;
  if (const toml::node* n = table.get("gckeepstorage")) {
    if (const auto* i = n->as_integer()) {
      w->gckeepstorage_raw = i->get();
    } else if (Status s = TakeDiskSpace(table, "gckeepstorage", where, &w->gckeepstorage_space);
               !s.ok()) {
      return s;
    }
  }
  for (auto [key, target] : {std::pair{"reservedSpace", &w->reserved_space},
                             std::pair{"maxUsedSpace", &w->max_used_space},
                             std::pair{"minFreeSpace", &w->min_free_space}}) {
    if (Status s = TakeDiskSpace(table, key, where, target); !s.ok()) return s;
  }
  const toml::node* policies = table.get("gcpolicy");
  if (policies == nullptr) return Status::Ok();
  const toml::array* list = policies->as_array();
  if (list == nullptr) return WrongType(where, "gcpolicy", "a list of tables", *policies);
  for (std::size_t i = 0; i < list->size() && i < kMaxGcPolicies; ++i) {
    const std::string at = fmt::format("{}.gcpolicy[{}]", where, i);
    const toml::table* t = list->get(i)->as_table();
    if (t == nullptr) {
      return Status::Error(StatusCode::kParse, fmt::format("{}: expected a table", at));
    }
    BuildkitdGcPolicy p;
    if (Status s = ReadPolicy(*t, at, &p, w); !s.ok()) return s;
    w->policies.push_back(std::move(p));
  }
  return Status::Ok();
}

// The larger of a and b, where nullopt is smaller than any value.
void KeepLarger(std::optional<std::uint64_t>* a, std::optional<std::uint64_t> b) {
  if (b && *b > 0 && (!*a || *b > **a)) *a = b;
}

}  // namespace

BuildkitdFlags ParseBuildkitdCmdline(std::string_view cmdline) {
  std::vector<std::string_view> args;
  while (!cmdline.empty()) {
    const auto nul = cmdline.find('\0');
    args.push_back(cmdline.substr(0, nul));
    if (nul == std::string_view::npos) break;
    cmdline.remove_prefix(nul + 1);
  }
  BuildkitdFlags f;
  // args[0] is the program.
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") break;
    if (!a.starts_with('-')) continue;
    a.remove_prefix(a.starts_with("--") ? 2 : 1);
    std::string_view name = a, value;
    bool inline_value = false;
    if (const auto eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    std::string* target = nullptr;
    bool address = false;
    if (name == "addr") {
      address = true;
    } else if (name == "config") {
      target = &f.config;
    } else if (name == "tlscert") {
      target = &f.tls_cert;
    } else if (name == "tlskey") {
      target = &f.tls_key;
    } else if (name == "tlscacert") {
      target = &f.tls_ca;
    } else if (name == "debugaddr") {
      target = &f.debug_address;
    } else {
      continue;  // a flag we do not read (or a boolean one): its value, if any, is skipped as a
                 // non-flag argument
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) break;  // the flag's value is missing: buildkitd would not start
      value = args[++i];
    }
    if (address) {
      AddAddress(&f.addresses, value);
    } else {
      *target = Value(value);
    }
  }
  return f;
}

Status ParseBuildkitdToml(std::string_view text, BuildkitdGrpcConfig* out) {
  *out = {};
  toml::table root;
  if (Status s = ParseToml(text, &root); !s.ok()) return s;
  const toml::node* grpc_node = root.get("grpc");
  if (grpc_node == nullptr) return Status::Ok();
  const toml::table* grpc = grpc_node->as_table();
  if (grpc == nullptr) return Status::Error(StatusCode::kParse, "grpc must be a table");
  if (const toml::node* a = grpc->get("address")) {
    const toml::array* list = a->as_array();
    if (list == nullptr) {
      return Status::Error(StatusCode::kParse, "grpc.address must be a list of strings");
    }
    for (const toml::node& item : *list) {
      const auto* s = item.as_string();
      if (s == nullptr) {
        return Status::Error(StatusCode::kParse, "grpc.address must be a list of strings");
      }
      AddAddress(&out->addresses, s->get());
    }
  }
  if (Status s = TakeString(*grpc, "debugAddress", "grpc", &out->debug_address); !s.ok()) return s;
  const toml::node* tls_node = grpc->get("tls");
  if (tls_node == nullptr) return Status::Ok();
  const toml::table* tls = tls_node->as_table();
  if (tls == nullptr) return Status::Error(StatusCode::kParse, "grpc.tls must be a table");
  for (auto [key, target] : {std::pair{"cert", &out->tls_cert}, std::pair{"key", &out->tls_key},
                             std::pair{"ca", &out->tls_ca}}) {
    if (Status s = TakeString(*tls, key, "grpc.tls", target); !s.ok()) return s;
  }
  return Status::Ok();
}

std::optional<std::uint64_t> BuildkitdDiskSpace::Resolve(std::uint64_t disk_bytes) const {
  if (!set) return std::nullopt;
  if (!is_percent) return bytes;
  if (percent == 0) return 0;
  if (disk_bytes == 0) return std::nullopt;
  __extension__ using Wide = unsigned __int128;
  const Wide v = static_cast<Wide>(disk_bytes) * percent / 100;
  return v > std::numeric_limits<std::uint64_t>::max() ? std::numeric_limits<std::uint64_t>::max()
                                                       : static_cast<std::uint64_t>(v);
}

Status ParseBuildkitdGcToml(std::string_view text, BuildkitdGcConfig* out) {
  *out = {};
  toml::table root;
  if (Status s = ParseToml(text, &root); !s.ok()) return s;
  const toml::node* workers_node = root.get("worker");
  if (workers_node == nullptr) return Status::Ok();
  const toml::table* workers = workers_node->as_table();
  if (workers == nullptr) return Status::Error(StatusCode::kParse, "worker: expected a table");
  for (std::string_view name : {"oci", "containerd"}) {
    const toml::node* n = workers->get(name);
    if (n == nullptr) continue;
    const toml::table* t = n->as_table();
    if (t == nullptr) {
      return Status::Error(StatusCode::kParse, fmt::format("worker.{}: expected a table", name));
    }
    BuildkitdWorkerGc w;
    if (Status s = ReadWorker(*t, name, &w); !s.ok()) {
      *out = {};
      return s;
    }
    out->workers.push_back(std::move(w));
  }
  return Status::Ok();
}

std::uint64_t BuildkitdGcCap::Guessed() const {
  return bytes != bytes_if_mb && bytes < kGcKeepStorageMbBelow ? bytes_if_mb : bytes;
}

std::optional<BuildkitdGcCap> BuildkitdGcCapFor(const BuildkitdGcConfig& config,
                                                std::uint64_t disk_bytes) {
  std::optional<BuildkitdGcCap> best;
  for (const BuildkitdWorkerGc& w : config.workers) {
    if (w.enabled == false || w.gc == false) continue;
    // A value that is set but cannot be resolved (a percentage of an unknown disk) makes the cap
    // unknown: the larger of a known and an unknown value is unknown.
    bool unknown = false;
    auto resolve = [&](const BuildkitdDiskSpace& d) {
      auto v = d.Resolve(disk_bytes);
      if (d.set && !v) unknown = true;
      return v;
    };
    BuildkitdGcCap cap;
    cap.worker = w.worker;
    cap.source = "gcpolicy";
    std::optional<std::uint64_t> bytes, if_mb;
    if (!w.policies.empty()) {
      for (const BuildkitdGcPolicy& p : w.policies) {
        KeepLarger(&bytes, resolve(p.reserved_space.set ? p.reserved_space : p.keep_bytes));
        KeepLarger(&bytes, resolve(p.max_used_space));
      }
      if_mb = bytes;
    } else {
      std::optional<std::uint64_t> keep, keep_mb;
      std::string_view keep_key = "gckeepstorage";
      if (w.gckeepstorage_raw && !w.gckeepstorage_misplaced && *w.gckeepstorage_raw > 0) {
        const auto raw = static_cast<std::uint64_t>(*w.gckeepstorage_raw);
        keep = raw;
        keep_mb = raw > (std::numeric_limits<std::uint64_t>::max() >> 20)
                      ? std::numeric_limits<std::uint64_t>::max()
                      : raw << 20;
      } else if (w.gckeepstorage_space.set) {
        keep = keep_mb = resolve(w.gckeepstorage_space);
      } else {
        keep = keep_mb = resolve(w.reserved_space);
        keep_key = "reservedSpace";
      }
      const auto max_used = resolve(w.max_used_space);
      KeepLarger(&bytes, keep);
      KeepLarger(&if_mb, keep_mb);
      cap.source = max_used && *max_used > bytes.value_or(0) ? "maxUsedSpace" : keep_key;
      KeepLarger(&bytes, max_used);
      KeepLarger(&if_mb, max_used);
    }
    if (unknown) return std::nullopt;
    if (!bytes) continue;
    cap.bytes = *bytes;
    cap.bytes_if_mb = if_mb.value_or(*bytes);
    if (!best || cap.bytes > best->bytes) best = std::move(cap);
  }
  return best;
}

BuildkitdListen MergeBuildkitdListen(const BuildkitdFlags& flags, const BuildkitdGrpcConfig& file) {
  BuildkitdListen l;
  if (!flags.addresses.empty()) {
    l.addresses = flags.addresses;
    l.source = "--addr";
  } else if (!file.addresses.empty()) {
    l.addresses = file.addresses;
    l.source = "buildkitd.toml";
  }
  auto pick = [](const std::string& flag, const std::string& key) {
    return flag.empty() ? key : flag;
  };
  l.tls_cert = pick(flags.tls_cert, file.tls_cert);
  l.tls_ca = pick(flags.tls_ca, file.tls_ca);
  l.debug_address = pick(flags.debug_address, file.debug_address);
  return l;
}

std::string ProbeAddressFor(std::string_view listen) {
  constexpr std::string_view kScheme = "tcp://";
  if (!listen.starts_with(kScheme)) return "";
  const auto hp = SplitHostPort(listen.substr(kScheme.size()), 1);
  if (!hp) return "";
  if (hp->host.empty() || hp->host == "0.0.0.0") return fmt::format("tcp://127.0.0.1:{}", hp->port);
  if (hp->bracketed && hp->host == "::") return fmt::format("tcp://[::1]:{}", hp->port);
  return std::string(listen);
}

int DebugAddressPort(std::string_view debug_address) {
  const auto hp = SplitHostPort(debug_address, 1);
  return hp ? hp->port : 0;
}

}  // namespace cachewarden
