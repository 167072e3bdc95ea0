#include "agent/http_server.h"

#include <curl/curl.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <stdexcept>

#include "agent/exposition.h"
#include "base/metric_writer.h"

namespace cachewarden {
namespace {

struct Reply {
  long code = 0;  // 0: no connection
  std::string body;
  std::string headers;  // the raw header block, lower-cased
};

std::size_t Append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One request on loopback. `gzip`: offer gzip, and let libcurl decode the body.
Reply Request(int port, const std::string& path, const char* method = "GET", bool gzip = false) {
  Reply r;
  CURL* curl = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (std::string_view(method) == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  if (gzip) curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.code);
  }
  curl_easy_cleanup(curl);
  for (char& c : r.headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::vector<prometheus::MetricFamily> SomeFamilies(double value) {
  MetricWriter w;
  w.Gauge("test_value", "A value the test chose.", value, {{"which", "one"}});
  HistogramValue h({0.1, 1});
  h.Observe(0.5);
  w.Histogram("test_seconds", "A histogram.", h);
  return w.Take();
}

HttpServer::Handlers FixedHandlers(double value, bool healthy, bool ready, std::string status) {
  HttpServer::Handlers h;
  h.metrics = [value] { return SomeFamilies(value); };
  h.healthy = [healthy] { return healthy; };
  h.ready = [ready] { return ready; };
  h.status_json = [status] { return status; };
  return h;
}

TEST_CASE("two http servers at once each answer from their own providers", "[http]") {
  HttpServer a("127.0.0.1:0", FixedHandlers(1, true, true, R"({"server":"a"})"));
  HttpServer b("127.0.0.1:0", FixedHandlers(2, false, false, R"({"server":"b"})"));
  REQUIRE(a.port() > 0);
  REQUIRE(b.port() > 0);
  CHECK(a.port() != b.port());

  CHECK(Request(a.port(), "/status").body == R"({"server":"a"})");
  CHECK(Request(b.port(), "/status").body == R"({"server":"b"})");
  CHECK(Request(a.port(), "/healthz").code == 200);
  CHECK(Request(b.port(), "/healthz").code == 503);
  CHECK(Request(a.port(), "/metrics").body == ExpositionText(SomeFamilies(1)));
  CHECK(Request(b.port(), "/metrics").body == ExpositionText(SomeFamilies(2)));
}

TEST_CASE("http /metrics serves the providers' families as exposition text, gzip when accepted",
          "[http]") {
  HttpServer s("127.0.0.1:0", FixedHandlers(42, true, true, "{}"));
  const std::string expected = ExpositionText(SomeFamilies(42));
  REQUIRE_THAT(expected, Catch::Contains("test_value{which=\"one\"} 42"));

  Reply plain = Request(s.port(), "/metrics");
  CHECK(plain.code == 200);
  CHECK(plain.body == expected);
  CHECK_THAT(plain.headers, Catch::Contains("content-type: text/plain; charset=utf-8\r\n"));
  CHECK_THAT(plain.headers, !Catch::Contains("content-encoding"));

  Reply gzipped = Request(s.port(), "/metrics", "GET", true);
  CHECK(gzipped.code == 200);
  CHECK_THAT(gzipped.headers, Catch::Contains("content-encoding: gzip\r\n"));
  CHECK(gzipped.body == expected);  // as libcurl decoded it

  // As prometheus-cpp's handler did: sub-paths are /metrics too, and only GET is served.
  CHECK(Request(s.port(), "/metrics/x").body == expected);
  CHECK(Request(s.port(), "/metrics", "POST").code == 404);
  CHECK(Request(s.port(), "/metrics", "PUT").code == 405);
}

TEST_CASE("http plain paths keep their codes, bodies and content types", "[http]") {
  HttpServer up("127.0.0.1:0", FixedHandlers(0, true, true, R"({"ok":true})"));
  HttpServer down("127.0.0.1:0", FixedHandlers(0, false, false, "{}"));

  Reply healthy = Request(up.port(), "/healthz");
  CHECK(healthy.code == 200);
  CHECK(healthy.body == "ok\n");
  CHECK_THAT(healthy.headers, Catch::Contains("content-type: text/plain\r\n"));
  CHECK_THAT(healthy.headers, Catch::Contains("cache-control: no-store\r\n"));
  Reply stalled = Request(down.port(), "/healthz");
  CHECK(stalled.code == 503);
  CHECK(stalled.body == "event loop stalled\n");

  CHECK(Request(up.port(), "/readyz").body == "ready\n");
  Reply waiting = Request(down.port(), "/readyz");
  CHECK(waiting.code == 503);
  CHECK(waiting.body == "waiting for the first run of every probe\n");

  Reply status = Request(up.port(), "/status?pretty=1");
  CHECK(status.code == 200);
  CHECK(status.body == R"({"ok":true})");
  CHECK_THAT(status.headers, Catch::Contains("content-type: application/json\r\n"));

  Reply index = Request(up.port(), "/");
  CHECK(index.code == 200);
  CHECK_THAT(index.body, Catch::Contains("<a href=\"/metrics\">"));
  CHECK_THAT(index.headers, Catch::Contains("content-type: text/html\r\n"));

  // Any method on a plain path.
  CHECK(Request(up.port(), "/healthz", "POST").body == "ok\n");
  Reply head = Request(up.port(), "/status", "HEAD");
  CHECK(head.code == 200);
  CHECK_THAT(head.headers, Catch::Contains("content-length: 11\r\n"));

  // Exact paths only; the rest is civetweb's.
  CHECK(Request(up.port(), "/nope").code == 404);
  CHECK(Request(up.port(), "/healthz/x").code == 404);
  CHECK(Request(up.port(), "/nope", "DELETE").code == 405);
}

TEST_CASE("http server on a port already taken throws naming the address", "[http]") {
  HttpServer first("127.0.0.1:0", FixedHandlers(0, true, true, "{}"));
  std::string taken = "127.0.0.1:" + std::to_string(first.port());
  try {
    HttpServer second(taken, FixedHandlers(0, true, true, "{}"));
    FAIL("the second server started on a taken port");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("cannot listen on \"" + taken + "\""));
  }
  CHECK(Request(first.port(), "/healthz").code == 200);
}

}  // namespace
}  // namespace cachewarden
