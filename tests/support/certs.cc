#include "tests/support/certs.h"

#include <crypt.h>

#include <cstring>
#include <fstream>

#include "tests/support/process.h"

namespace cachewarden::testing {
namespace {

std::string Run(const std::vector<std::string>& argv) {
  ProcessResult r = RunProcess(argv);
  return r.exit_code == 0 ? "" : "openssl failed: " + r.err;
}

}  // namespace

std::string MakeCa(const std::string& dir, const std::string& name, CertFiles* out) {
  out->cert = dir + "/" + name + ".crt";
  out->key = dir + "/" + name + ".key";
  return Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", out->key, "-out", out->cert,
              "-days", "2", "-subj", "/CN=" + name});
}

std::string MakeSignedCert(const std::string& dir, const std::string& name, const CertFiles& ca,
                           CertFiles* out, int days) {
  out->cert = dir + "/" + name + ".crt";
  out->key = dir + "/" + name + ".key";
  std::string csr = dir + "/" + name + ".csr", ext = dir + "/" + name + ".ext";
  {
    std::ofstream f(ext);
    f << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
         "extendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n";
  }
  std::string error =
      Run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", out->key, "-out", csr, "-subj", "/CN=" + name});
  if (!error.empty()) return error;
  return Run({"openssl", "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
              "-CAcreateserial", "-CAserial", dir + "/" + name + ".srl", "-out", out->cert, "-days",
              std::to_string(days), "-extfile", ext});
}

std::string BcryptHash(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", 4, nullptr, 0, salt, sizeof salt) == nullptr) return "";
  crypt_data data;
  std::memset(&data, 0, sizeof data);
  const char* h = crypt_rn(password.c_str(), salt, &data, sizeof data);
  return h == nullptr || h[0] == '*' ? "" : h;
}

}  // namespace cachewarden::testing
