#include "agent/http_request.h"

#include <catch2/catch.hpp>
#include <string>

namespace cachewarden {
namespace {

TEST_CASE("http request heads: complete, incomplete, refused", "[http]") {
  HttpRequestHead h;
  CHECK(ParseRequestHead("GET /metrics HTTP/1.1\r\nHost: x\r\n", &h) == 0);
  CHECK(ParseRequestHead(
            "GET /metrics?x=1 HTTP/1.1\r\naccept-ENCODING:  gzip \r\nAuthorization: Basic "
            "YTpi\r\n\r\nbody",
            &h) == 200);
  CHECK(h.method == "GET");
  CHECK(h.path == "/metrics");
  CHECK(h.accept_encoding == "gzip");
  CHECK(h.authorization == "Basic YTpi");
  CHECK(ParseRequestHead("GET http://host:1/status HTTP/1.0\r\n\r\n", &h) == 200);
  CHECK(h.path == "/status");

  CHECK(ParseRequestHead("GET / HTTP/2\r\n\r\n", &h) == 400);
  CHECK(ParseRequestHead("get / HTTP/1.1\r\n\r\n", &h) == 400);
  CHECK(ParseRequestHead("GET nopath HTTP/1.1\r\n\r\n", &h) == 400);
  CHECK(ParseRequestHead("GET / HTTP/1.1\r\nno colon\r\n\r\n", &h) == 400);
  CHECK(ParseRequestHead("GET / HTTP/1.1\r\n" + std::string(kMaxRequestHeadBytes, 'a'), &h) == 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < kMaxRequestHeaderLines; i++) many += "X: 1\r\n";
  CHECK(ParseRequestHead(many + "\r\n", &h) == 200);
  CHECK(ParseRequestHead(many + "X: 1\r\n\r\n", &h) == 431);
}

TEST_CASE("http basic auth base64 decodes standard base64 only", "[http]") {
  CHECK(Base64Decode("cHJvbTpzM2NyZXQ=") == "prom:s3cret");
  CHECK(Base64Decode("YTpi") == "a:b");
  CHECK(Base64Decode("YTpi!") == std::nullopt);
  CHECK(Base64Decode("YT=pi") == std::nullopt);
}

}  // namespace
}  // namespace cachewarden
