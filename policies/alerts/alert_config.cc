#include "policies/alerts/alert_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "policies/alerts/alert_rules.h"

namespace cachewarden {
namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::seconds;

double ReadParam(ConfigReader& r, const RuleParam& p) {
  switch (p.kind) {
    case ParamKind::kPercent:
      return r.Number(p.key, p.def, 0, 100);
    case ParamKind::kDuration:
      return ToSeconds(
          r.Dur(p.key, std::chrono::duration_cast<Duration>(std::chrono::duration<double>(p.def)),
                Duration::zero(), days(365)));
    case ParamKind::kSize:
      return r.Size(p.key, SizeSpec::Bytes(static_cast<std::uint64_t>(p.def)), false).value;
    case ParamKind::kCount:
      return static_cast<double>(r.Int(p.key, static_cast<std::int64_t>(p.def), 0, INT64_MAX));
  }
  return p.def;
}

RuleConfig ReadRule(ConfigReader& r, const RuleDef& def) {
  RuleConfig c;
  c.enabled = r.Bool("enabled", true);
  c.for_duration = r.Dur("for", def.default_for, Duration::zero(), days(7));
  c.keep_firing_for =
      r.Dur("keep_firing_for", def.default_keep_firing_for, Duration::zero(), days(7));
  for (const auto& p : def.params) c.params[std::string(p.key)] = ReadParam(r, p);
  r.Finish();
  return c;
}

// A notifier URL, checked and without a trailing slash.
std::string CheckedUrl(const ConfigReader& r, const std::string& key, std::string url) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    r.Fail(key, fmt::format("expected an http:// or https:// URL, got \"{}\"", url));
  }
  while (url.back() == '/') url.pop_back();
  return url;
}

// Whether `value` can go into an HTTP header as it is: no control characters (CR, LF, NUL, ...).
bool HeaderSafe(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

// How to reach a notifier destination: timeout, auth, CA (not the URL).
HttpTargetConfig ReadTarget(ConfigReader& r) {
  HttpTargetConfig t;
  t.timeout = r.Dur("timeout", seconds(10), milliseconds(100), std::chrono::minutes(5));
  t.bearer_token = r.Secret("bearer_token");
  std::string token_file = r.String("bearer_token_file", "");
  if (!token_file.empty()) {
    if (!t.bearer_token.empty())
      r.Fail("bearer_token_file", "give bearer_token or bearer_token_file, not both");
    try {
      // Bounded and never blocking: a FIFO or /dev/zero here must not hang the load.
      t.bearer_token = ReadConfigFile(token_file);
    } catch (const ConfigError& e) {
      r.Fail("bearer_token_file", fmt::format("cannot read \"{}\": {}", token_file, e.what()));
    }
    while (!t.bearer_token.empty() &&
           std::isspace(static_cast<unsigned char>(t.bearer_token.back()))) {
      t.bearer_token.pop_back();
    }
  }
  // The token goes into a request header: a CR or LF would inject headers of its own.
  if (!HeaderSafe(t.bearer_token)) {
    r.Fail(token_file.empty() ? "bearer_token" : "bearer_token_file",
           "the token contains a CR, LF or other control character");
  }
  ConfigReader basic = r.Object("basic_auth");
  t.basic_username = basic.String("username", "");
  t.basic_password = basic.Secret("password");
  basic.Finish();
  if (!t.basic_username.empty() && !t.bearer_token.empty()) {
    r.Fail("basic_auth", "give a bearer token or basic auth, not both");
  }
  t.ca_file = r.String("ca_file", "");
  return t;
}

}  // namespace

double RuleConfig::Param(std::string_view key) const {
  auto it = params.find(key);
  return it == params.end() ? 0 : it->second;
}

const RuleConfig& AlertsConfig::Rule(std::string_view name) const {
  auto it = rules.find(name);
  if (it != rules.end()) return it->second;
  static const RuleConfig kDisabled = [] {
    RuleConfig c;
    c.enabled = false;
    return c;
  }();
  return kDisabled;
}

AlertsConfig ReadAlertsConfig(ConfigReader& alerts) {
  AlertsConfig c;
  c.evaluation_interval =
      alerts.Dur("evaluation_interval", seconds(15), milliseconds(100), std::chrono::hours(1));
  c.external_url = alerts.String("external_url", "");

  ConfigReader rules = alerts.Object("rules");
  for (const auto& def : RuleTable()) {
    ConfigReader r = rules.Object(def.name);
    r.Collect([&] { c.rules[std::string(def.name)] = ReadRule(r, def); });
  }
  rules.Finish();

  ConfigReader am = alerts.Object("alertmanager");
  am.Collect([&] {
    auto urls = am.StringList("urls", {});
    c.alertmanager.resend_interval =
        am.Dur("resend_interval", std::chrono::minutes(1), milliseconds(100), days(1));
    c.alertmanager.resolve_resend_for =
        am.Dur("resolve_resend_for", std::chrono::minutes(5), Duration::zero(), days(1));
    c.alertmanager.max_backoff =
        am.Dur("max_backoff", std::chrono::minutes(1), milliseconds(100), std::chrono::hours(1));
    c.alertmanager.queue_size = static_cast<int>(am.Int("queue_size", 16, 1, 10000));
    c.alertmanager.external_labels = am.StringMap("external_labels");
    // The per-URL settings are shared by every URL of the HA set.
    HttpTargetConfig shared = ReadTarget(am);
    am.Finish();
    for (std::size_t i = 0; i < urls.size(); ++i) {
      HttpTargetConfig t = shared;
      t.url = CheckedUrl(am, fmt::format("urls/{}", i), urls[i]);
      c.alertmanager.targets.push_back(std::move(t));
    }
  });

  bool present = false;
  for (auto& w : alerts.ObjectList("webhooks", &present)) {
    w.Collect([&] {
      std::string url = w.String("url", "");
      HttpTargetConfig t = ReadTarget(w);
      t.url = CheckedUrl(w, "url", url);
      c.webhooks.push_back(std::move(t));
      w.Finish();
    });
  }
  alerts.Finish();
  return c;
}

AlertsConfig DefaultAlertsConfig() {
  ConfigReader empty(nullptr, "/alerts", nullptr);
  return ReadAlertsConfig(empty);
}

}  // namespace cachewarden
