#pragma once

#include <string>

namespace cachewarden::testing {

// A CA and certificates it signs, made with the openssl command (P-256 keys, two days valid):
// for the TLS tests of the endpoint.
struct CertFiles {
  std::string cert, key;
};

// A self-signed CA "<name>" in `dir` (<name>.crt, <name>.key). "" on success, else the error.
std::string MakeCa(const std::string& dir, const std::string& name, CertFiles* out);

// A certificate "<name>" signed by `ca`, for 127.0.0.1 and localhost, usable by a server and a
// client, valid for `days` from now. "" on success, else the error.
std::string MakeSignedCert(const std::string& dir, const std::string& name, const CertFiles& ca,
                           CertFiles* out, int days = 2);

// A bcrypt ($2b$) hash of `password` at the lowest cost (4), so that tests stay fast.
std::string BcryptHash(const std::string& password);

}  // namespace cachewarden::testing
