#pragma once

#include <string>

namespace cachewarden::testing {

struct HttpResponse {
  long code = 0;  // 0: no connection
  std::string body;
};

// A GET on loopback with libcurl; a short timeout.
HttpResponse HttpGet(const std::string& url);

// How HttpGet identifies itself to an endpoint with TLS or basic auth.
struct HttpClient {
  std::string ca_file;              // trust only this CA (https URLs)
  std::string cert_file, key_file;  // a client certificate, when given
  std::string userpwd;              // basic auth "user:password", when given
};
HttpResponse HttpGet(const std::string& url, const HttpClient& client);

}  // namespace cachewarden::testing
