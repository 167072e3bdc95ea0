#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "probes/snapshot.h"

namespace cachewarden {

// The input BuildkitPlaintextTCP, BuildkitNoClientAuth and BuildkitCertNotReloaded share: each
// BuildKit TCP address the exposure probe judged, as plain figures.
struct EndpointsInput {
  struct Endpoint {
    std::string address;
    bool tls = false;
    bool client_cert_required = false;
    std::string alert;  // the server's refusal, "certificate required"
    // Known only where buildkitd's process was found and listens on this address's port.
    bool bind_known = false;
    bool all_interfaces = false;
    // With a cert_file: the served certificate and the file's differ, and for how long.
    bool cert_compared = false;
    bool reload_pending = false;
    double pending_seconds = 0;
    std::string cert_file;
  };
  std::vector<Endpoint> endpoints;  // judged ones only: one that did not answer is not judged
  // The tcp:// addresses buildkitd's log says it serves without TLS since its latest start (the
  // logs probe's `plaintext_tcp`): BuildkitPlaintextTCP's second source, for when the exposure
  // probe judged no address (off, or buildkitd's port not reachable from the agent).
  std::vector<std::string> log_plaintext;
};

// Needs the exposure probe's data; log_plaintext left empty.
std::optional<EndpointsInput> ExtractEndpoints(const Snapshot& s, SystemTime now);
// BuildkitPlaintextTCP's: the exposure probe's endpoints and the log's plaintext addresses; needs
// either probe's data.
std::optional<EndpointsInput> ExtractPlaintext(const Snapshot& s, SystemTime now);

// Where the address is reachable from, for the texts: " and listens on all interfaces".
std::string ReachText(const EndpointsInput::Endpoint& e);

}  // namespace cachewarden
