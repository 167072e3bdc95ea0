#pragma once

#include <openssl/x509.h>

#include "probes/cert_info.h"

namespace cachewarden {

// `cert` (not owned, not null) as plain data. For the .cc files of probes/ that hold an X509.
CertInfo CertInfoOf(X509* cert);

}  // namespace cachewarden
