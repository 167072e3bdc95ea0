#include "policies/alerts/alert_config.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "tests/support/config_errors.h"
#include "tests/support/process.h"

namespace cachewarden {
namespace {

AlertsConfig Read(const std::string& text, nlohmann::json* effective = nullptr) {
  nlohmann::json doc = nlohmann::json::parse(text);
  nlohmann::json eff;
  ConfigReader r(&doc, "/alerts", effective ? effective : &eff);
  return ReadAlertsConfig(r);
}

std::string ErrorOf(const std::string& text) {
  return testing::ConfigErrorOf([&] { Read(text); });
}

TEST_CASE("alert rules read their thresholds, for and keep_firing_for", "[alerts][config]") {
  AlertsConfig c = Read(R"({"rules": {"CacheDiskAlmostFull": {"for": "30s",
      "keep_firing_for": "2m", "critical_percent": 90},
      "DindStaleMounts": {"enabled": false}}})");
  const RuleConfig& disk = c.Rule("CacheDiskAlmostFull");
  CHECK(disk.for_duration == std::chrono::seconds(30));
  CHECK(disk.keep_firing_for == std::chrono::minutes(2));
  CHECK(disk.Param("critical_percent") == 90);
  CHECK(disk.Param("warning_percent") == 85);
  CHECK_FALSE(c.Rule("DindStaleMounts").enabled);
  CHECK(c.Rule("NoSuchRule").enabled == false);
}

TEST_CASE("alertmanager and webhook settings are read strictly", "[alerts][config]") {
  nlohmann::json eff;
  AlertsConfig c = Read(
      R"({"alertmanager": {"urls": ["http://am-0:9093/", "http://am-1:9093"],
      "resend_interval": "30s", "bearer_token": "s3cret",
      "external_labels": {"cluster": "ci"}},
      "webhooks": [{"url": "https://chat.example/hook", "timeout": "2s"}]})",
      &eff);
  REQUIRE(c.alertmanager.targets.size() == 2);
  CHECK(c.alertmanager.targets[0].url == "http://am-0:9093");
  CHECK(c.alertmanager.targets[1].bearer_token == "s3cret");
  CHECK(c.alertmanager.resend_interval == std::chrono::seconds(30));
  CHECK(c.alertmanager.resolve_resend_for == std::chrono::minutes(5));
  CHECK(c.alertmanager.external_labels.size() == 1);
  REQUIRE(c.webhooks.size() == 1);
  CHECK(c.webhooks[0].timeout == std::chrono::seconds(2));
  // A secret never shows in `config print`.
  CHECK(eff["alertmanager"]["bearer_token"] == "<redacted>");
}

TEST_CASE("bad alert settings name their JSON path", "[alerts][config]") {
  CHECK(ErrorOf(R"({"rules": {"CacheDiskAlmostFul": {}}})")
            .find("/alerts/rules/CacheDiskAlmostFul: unknown key; did you mean "
                  "\"CacheDiskAlmostFull\"") != std::string::npos);
  CHECK(ErrorOf(R"({"rules": {"CacheDiskAlmostFull": {"critical_percent": 120}}})")
            .find("/alerts/rules/CacheDiskAlmostFull/critical_percent") != std::string::npos);
  CHECK(ErrorOf(R"({"alertmanager": {"urls": ["am:9093"]}})").find("/alerts/alertmanager/urls/0") !=
        std::string::npos);
  CHECK(ErrorOf(R"({"alertmanager": {"bearer_token": "a", "basic_auth": {"username": "u"}}})")
            .find("not both") != std::string::npos);
  CHECK(ErrorOf(R"({"webhooks": [{"url": "http://x", "timout": "1s"}]})")
            .find("/alerts/webhooks/0/timout") != std::string::npos);
}

TEST_CASE("a bearer token with CR, LF or a control character is refused at load",
          "[alerts][config]") {
  CHECK(
      ErrorOf(R"({"alertmanager": {"urls": ["http://am"], "bearer_token": "t\r\nX-Evil: 1"}})") ==
      "/alerts/alertmanager/bearer_token: the token contains a CR, LF or other control character");
  CHECK_THAT(ErrorOf(R"({"webhooks": [{"url": "http://x", "bearer_token": "a\nb"}]})"),
             Catch::StartsWith("/alerts/webhooks/0/bearer_token: the token contains a CR"));
  testing::TempDir dir;
  // A trailing newline is trimmed (files usually end in one); one inside the token is refused.
  testing::WriteFile(dir / "ok", "secret\n");
  testing::WriteFile(dir / "bad", "secret\r\nX-Evil: 1\n");
  CHECK(Read(fmt::format(
                 R"({{"alertmanager": {{"urls": ["http://am"], "bearer_token_file": "{}"}}}})",
                 dir / "ok"))
            .alertmanager.targets.at(0)
            .bearer_token == "secret");
  CHECK(ErrorOf(fmt::format(
            R"({{"alertmanager": {{"urls": ["http://am"], "bearer_token_file": "{}"}}}})",
            dir / "bad")) ==
        "/alerts/alertmanager/bearer_token_file: the token contains a CR, LF or other control "
        "character");
  // Never waits on a FIFO or reads /dev/zero forever.
  CHECK_THAT(
      ErrorOf(R"({"alertmanager": {"urls": ["http://am"], "bearer_token_file": "/dev/zero"}})"),
      Catch::StartsWith("/alerts/alertmanager/bearer_token_file: cannot read") &&
          Catch::Contains("not a regular file"));
}

}  // namespace
}  // namespace cachewarden
