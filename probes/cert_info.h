#pragma once

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace cachewarden {

// What the exposure probe reports of one X.509 certificate: the served one, or one read from a
// PEM file. Plain data; the OpenSSL objects stay in cert_info.cc and endpoint_handshake.cc.
struct CertInfo {
  std::string subject;            // RFC 2253, "CN=buildkitd,O=..."
  std::string issuer;             // RFC 2253
  std::vector<std::string> sans;  // "DNS:localhost", "IP:127.0.0.1"
  SystemTime not_after{};
  std::string sha256;  // of the DER encoding, lower-case hex: what "the same certificate" means

  bool operator==(const CertInfo&) const = default;
};

// The certificates of a PEM file (a bundle may hold several), in file order. kMissing or
// kPermission for a file that cannot be opened, kParse for one without a certificate. Thread-safe.
Status ReadPemCertificates(const std::string& path, std::vector<CertInfo>* out);
// The same from a file's text already read; `path` names it in the status.
Status ParsePemCertificates(std::string_view pem, const std::string& path,
                            std::vector<CertInfo>* out);

// The one of `certs` that expires first; `certs` must not be empty.
const CertInfo& EarliestExpiry(const std::vector<CertInfo>& certs);

}  // namespace cachewarden
