#include "tests/support/http.h"

#include <curl/curl.h>

namespace cachewarden::testing {
namespace {
std::size_t Append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}
}  // namespace

HttpResponse HttpGet(const std::string& url) { return HttpGet(url, HttpClient{}); }

HttpResponse HttpGet(const std::string& url, const HttpClient& client) {
  HttpResponse r;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  if (!client.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, client.ca_file.c_str());
  if (!client.cert_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, client.cert_file.c_str());
  if (!client.key_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, client.key_file.c_str());
  if (!client.userpwd.empty()) curl_easy_setopt(curl, CURLOPT_USERPWD, client.userpwd.c_str());
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.code);
  }
  curl_easy_cleanup(curl);
  return r;
}

}  // namespace cachewarden::testing
