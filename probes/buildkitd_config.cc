#include "probes/buildkitd_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

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
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    return Status::Error(StatusCode::kParse,
                         fmt::format("line {}, column {}: {}", e.source().begin.line,
                                     e.source().begin.column, Value(e.description())));
  }
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
