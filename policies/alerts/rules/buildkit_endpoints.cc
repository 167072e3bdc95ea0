#include "policies/alerts/rules/buildkit_endpoints.h"

#include "probes/exposure.h"
#include "probes/logs.h"

namespace cachewarden {

namespace {

// The judged endpoints of `x` (none when null).
EndpointsInput FromExposure(const ExposureData* x) {
  EndpointsInput in;
  if (x == nullptr) return in;
  for (const auto& e : x->endpoints) {
    if (!e.judged()) continue;
    EndpointsInput::Endpoint& o = in.endpoints.emplace_back();
    o.address = e.address;
    o.tls = e.handshake.transport == Transport::kTls;
    o.client_cert_required = e.handshake.client_cert_required;
    o.alert = e.handshake.alert;
    ExposureAddress a;
    std::string error;
    if (ParseExposureAddress(e.address, &a, &error)) {
      for (const auto& p : x->buildkit_ports) {
        if (p.port != a.port || !p.listening) continue;
        o.bind_known = true;
        o.all_interfaces = p.all_interfaces;
      }
    }
    o.cert_compared = x->disk_cert && x->disk_cert->cert && e.handshake.served;
    o.reload_pending = e.reload_pending;
    // The pending time as of the probe's run: the rule judges what the probe saw.
    if (e.reload_pending) o.pending_seconds = ToSeconds(x->collected - e.differs_since);
    if (x->disk_cert) o.cert_file = x->disk_cert->name();
  }
  return in;
}

}  // namespace

std::optional<EndpointsInput> ExtractEndpoints(const Snapshot& s, SystemTime) {
  auto x = s.Get<ExposureData>();
  if (x == nullptr) return std::nullopt;
  return FromExposure(x.get());
}

std::optional<EndpointsInput> ExtractPlaintext(const Snapshot& s, SystemTime) {
  auto x = s.Get<ExposureData>();
  auto logs = s.Get<LogsData>();
  if (x == nullptr && logs == nullptr) return std::nullopt;
  EndpointsInput in = FromExposure(x.get());
  if (logs != nullptr) in.log_plaintext = logs->plaintext_tcp;
  return in;
}

std::string ReachText(const EndpointsInput::Endpoint& e) {
  if (!e.bind_known) return "";
  return e.all_interfaces ? ", and buildkitd listens on all interfaces"
                          : " (buildkitd listens on loopback only)";
}

}  // namespace cachewarden
