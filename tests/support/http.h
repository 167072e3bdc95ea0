#pragma once

#include <string>

namespace cachewarden::testing {

struct HttpResponse {
  long code = 0;  // 0: no connection
  std::string body;
};

// A GET on loopback with libcurl; a short timeout.
HttpResponse HttpGet(const std::string& url);

}  // namespace cachewarden::testing
