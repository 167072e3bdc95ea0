#include "policies/gc/gc_config.h"

#include <catch2/catch.hpp>

#include "tests/support/config_errors.h"
#include "tests/support/enum_names.h"

namespace cachewarden {
namespace {

GcConfig Read(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text);
  nlohmann::json effective;
  ConfigReader r(&j, "/gc", &effective);
  return ReadGcConfig(r);
}

std::string ErrorOf(const std::string& text) {
  return testing::ConfigErrorOf([&] { Read(text); });
}

TEST_CASE("gc config without policies gives the default dind and buildkit policies",
          "[gc][config]") {
  GcConfig c = Read("{}");
  REQUIRE(c.policies.size() == 2);
  const GcPolicy& b = c.policies[1];
  CHECK(b.name == "buildkit");
  CHECK(b.action == GcAction::kPrune);
  CHECK(b.path.empty());
  CHECK(*b.triggers.used_above == SizeSpec::Percent(85));
  CHECK_FALSE(b.triggers.older_than);
  CHECK(b.prune.keep_duration == std::chrono::hours(1));
  CHECK(b.prune.keep_bytes == 0);
  CHECK_FALSE(b.prune.all);
  CHECK(b.prune.skip_unreachable);
  CHECK(b.prune == DefaultBuildkitPolicy().prune);
  const GcPolicy& p = c.policies[0];
  CHECK(p.name == "dind");
  CHECK(p.path == "dind");
  CHECK(p.exclude == std::vector<std::string>{"cache_*"});
  CHECK(p.min_age == std::chrono::hours(6));
  CHECK(p.skip_open);
  CHECK_FALSE(p.unmount_stale);
  CHECK(p.action == GcAction::kDelete);
  CHECK(*p.triggers.older_than == std::chrono::hours(24));
  CHECK(*p.triggers.used_above == SizeSpec::Percent(85));
  CHECK(*p.triggers.until_below == SizeSpec::Percent(80));
}

TEST_CASE("gc config reads a full policy", "[gc][config]") {
  GcConfig c = Read(R"({"policies": [{"name": "big", "path": "dind/x", "include": ["b*"],
      "exclude": ["keep"], "triggers": {"free_below": "10GiB", "total_above": "50%",
      "inodes_used_above": "90%", "always": false}, "min_age": "30m", "age_by": "ctime",
      "unmount_stale": true, "skip_open": true, "max_entries": 3, "max_bytes": "1GiB",
      "order": "largest_first", "interval": "5m", "max_delete_rate": 500, "threads": 4,
      "dry_run": true, "remeasure_after": "30m"},
      {"name": "prune", "action": "command", "command": ["buildctl", "prune"],
       "command_timeout": "2m", "triggers": {"used_above": "90%", "until_below": "70%"}}]})");
  REQUIRE(c.policies.size() == 2);
  const GcPolicy& p = c.policies[0];
  CHECK(p.order == GcOrder::kLargestFirst);
  CHECK(p.age_by == GcAgeBy::kCtime);
  CHECK(p.max_bytes == 1073741824ULL);
  CHECK(*p.triggers.inodes_until_below == SizeSpec::Percent(90));
  CHECK(p.workers.threads == 4);
  CHECK(p.remeasure_after == std::chrono::minutes(30));
  CHECK(c.policies[1].remeasure_after == std::chrono::minutes(10));  // the default
  CHECK(c.policies[1].command == std::vector<std::string>{"buildctl", "prune"});
  CHECK_FALSE(c.policies[1].skip_open);
  // skip_open is on by default for a policy on the dind directories.
  GcConfig d = Read(
      R"({"policies": [{"name": "a", "path": "dind", "triggers": {"always": true}},
      {"name": "b", "path": "dind/x", "triggers": {"always": true}},
      {"name": "c", "path": "other", "triggers": {"always": true}},
      {"name": "e", "path": "dind", "skip_open": false, "triggers": {"always": true}}]})");
  CHECK(d.policies[0].skip_open);
  CHECK(d.policies[1].skip_open);
  CHECK_FALSE(d.policies[2].skip_open);
  CHECK_FALSE(d.policies[3].skip_open);
  CHECK(c.policies[1].path.empty());
}

TEST_CASE("gc config refuses paths that escape or are odd", "[gc][config]") {
  for (const char* path : {"/abs", "../up", "dind/../..", "a//b", "a/", ".", "a/./b", ""}) {
    INFO(path);
    std::string text = std::string(R"({"policies": [{"name": "p", "path": ")") + path +
                       R"(", "triggers": {"always": true}}]})";
    CHECK(ErrorOf(text).find("/gc/policies/0/path") == 0);
  }
}

TEST_CASE("gc config refuses a delete policy under buildkit/", "[gc][config]") {
  for (const char* path : {"buildkit", "buildkit/runc-overlayfs/snapshots"}) {
    INFO(path);
    std::string text = std::string(R"({"policies": [{"name": "p", "path": ")") + path +
                       R"(", "triggers": {"always": true}}]})";
    std::string error = ErrorOf(text);
    CHECK(error.find("/gc/policies/0/path") == 0);
    CHECK(error.find("\"action\": \"prune\"") != std::string::npos);
  }
  // A directory merely named like it, and a command policy, are fine.
  CHECK(Read(R"({"policies": [{"name": "p", "path": "buildkit-old",
      "triggers": {"always": true}}]})")
            .policies.size() == 1);
  CHECK(Read(
            R"({"policies": [{"name": "p", "action": "command", "path": "buildkit",
      "command": ["buildctl", "prune"], "triggers": {"always": true}}]})")
            .policies.size() == 1);
}

TEST_CASE("gc config is strict about keys, triggers and commands", "[gc][config]") {
  CHECK(ErrorOf(
            R"({"policies": [{"name": "p", "path": "d", "triggers": {"always": true},
      "min_aeg": "1h"}]})")
            .find("did you mean \"min_age\"") != std::string::npos);
  CHECK(ErrorOf(R"({"policies": [{"name": "p", "path": "d", "triggers": {"used_abve": "80%"}}]})")
            .find("did you mean \"used_above\"") != std::string::npos);
  CHECK(ErrorOf(R"({"policies": [{"name": "p", "path": "d", "triggers": {}}]})")
            .find("at least one trigger") != std::string::npos);
  CHECK(ErrorOf(R"({"policies": [{"name": "p", "path": "d",
      "triggers": {"used_above": "80%", "until_below": "90%"}}]})")
            .find("until_below") != std::string::npos);
  CHECK(ErrorOf(R"({"policies": [{"name": "p", "action": "command",
      "triggers": {"always": true}}]})")
            .find("/gc/policies/0/command") == 0);
  CHECK(ErrorOf(R"({"policies": [{"name": "p", "path": "d", "command": ["x"],
      "triggers": {"always": true}}]})")
            .find("/gc/policies/0/command") == 0);
  CHECK(ErrorOf(R"({"policies": [{"name": "a b", "path": "d", "triggers": {"always": true}}]})")
            .find("/gc/policies/0/name") == 0);
  CHECK(ErrorOf(
            R"({"policies": [{"name": "a", "path": "d", "triggers": {"always": true}},
      {"name": "a", "path": "e", "triggers": {"always": true}}]})")
            .find("duplicate") != std::string::npos);
  CHECK(ErrorOf(R"({"policies": [{"name": "a", "path": "d",
      "triggers": {"inodes_used_above": "5GiB"}}]})")
            .find("percentage") != std::string::npos);
  CHECK(ErrorOf(R"({"policies": [{"name": "a", "path": "d", "triggers": {"always": true},
      "remeasure_after": "soon"}]})")
            .find("/gc/policies/0/remeasure_after: expected a duration") == 0);
}

TEST_CASE("gc config reads a prune policy's keys", "[gc][config][prune]") {
  GcConfig c = Read(R"({"policies": [{"name": "bk", "action": "prune",
      "triggers": {"free_below": "5GiB"}, "keep_bytes": "1GiB", "max_used_space": "4GiB",
      "min_free_space": "2GiB", "keep_duration": "48h",
      "filters": ["type==exec.cachemount", "id~=^ab,private"], "all": true,
      "prune_timeout": "2m", "when_unreachable": "fail"}]})");
  REQUIRE(c.policies.size() == 1);
  const GcPruneSettings& s = c.policies[0].prune;
  CHECK(c.policies[0].action == GcAction::kPrune);
  CHECK(s.keep_bytes == 1LL << 30);
  CHECK(s.max_used_space == 4LL << 30);
  CHECK(s.min_free_space == 2LL << 30);
  CHECK(s.keep_duration == std::chrono::hours(48));
  CHECK(s.filters == std::vector<std::string>{"type==exec.cachemount", "id~=^ab,private"});
  CHECK(s.all);
  CHECK(s.timeout == std::chrono::minutes(2));
  CHECK_FALSE(s.skip_unreachable);
}

TEST_CASE("gc config refuses prune keys that cannot work, each with its path and why",
          "[gc][config][prune]") {
  auto error_of = [](const std::string& extra, const std::string& triggers = R"({"always": true})",
                     const std::string& action = "prune") {
    return ErrorOf(R"({"policies": [{"name": "p", "action": ")" + action + R"(", "triggers": )" +
                   triggers + (extra.empty() ? "" : ", " + extra) + "}]}");
  };
  CHECK(error_of("").empty());
  std::string e = error_of(R"("path": "buildkit")");
  CHECK(e.find("/gc/policies/0/path") == 0);
  CHECK(e.find("leave path out") != std::string::npos);
  e = error_of("", R"({"older_than": "1d"})");
  CHECK(e.find("/gc/policies/0/triggers") == 0);
  CHECK(e.find("keep_duration") != std::string::npos);
  e = error_of(R"("filters": ["size>10"])");
  CHECK(e.find("/gc/policies/0/filters") == 0);
  CHECK(e.find("unknown field \"size>10\"") != std::string::npos);
  e = error_of(R"("filters": ["type==regular,"])");
  CHECK(e.find("an empty term") != std::string::npos);
  e = error_of(R"("filters": ["id~=("])");
  CHECK(e.find("not a regular expression") != std::string::npos);
  e = error_of(R"("keep_bytes": "50%")");
  CHECK(e.find("/gc/policies/0/keep_bytes") == 0);
  e = error_of(R"("keep_bytes": "2GiB", "max_used_space": "1GiB")");
  CHECK(e.find("/gc/policies/0/keep_bytes") == 0);
  CHECK(e.find("floor") != std::string::npos);
  e = error_of(R"("when_unreachable": "retry")");
  CHECK(e.find("/gc/policies/0/when_unreachable") == 0);
  e = error_of(R"("keep_duraton": "1h")");
  CHECK(e.find("did you mean \"keep_duration\"") != std::string::npos);
  e = error_of(R"("command": ["buildctl", "prune"])");
  CHECK(e.find("/gc/policies/0/command") == 0);
  for (const char* key : {R"("min_age": "1h")", R"("max_entries": 3)", R"("include": ["x"])"}) {
    INFO(key);
    e = error_of(key);
    CHECK(e.find("not used by the prune action") != std::string::npos);
  }
  // The prune keys on another action would do nothing: refused there.
  e = error_of(R"("path": "d", "keep_bytes": "1GiB")", R"({"always": true})", "delete");
  CHECK(e.find("/gc/policies/0/keep_bytes") == 0);
  CHECK(e.find("only used with \"action\": \"prune\"") != std::string::npos);
}

TEST_CASE("gc order and action: one name each, both directions", "[gc][config][names]") {
  testing::CheckNameTable<GcOrder>(kGcOrderNames, GcOrder::kLargestFirst);
  testing::CheckNameTable<GcAction>(kGcActionNames, GcAction::kPrune);
}

TEST_CASE("gc config reads order and age_by by their name tables, and shows them as read",
          "[gc][config]") {
  auto read = [](const std::string& key, std::string_view value, nlohmann::json* effective) {
    nlohmann::json j = {{"policies",
                         {{{"name", "p"},
                           {"path", "d"},
                           {"triggers", {{"always", true}}},
                           {key, std::string(value)}}}}};
    ConfigReader r(&j, "/gc", effective);
    return ReadGcConfig(r).policies.at(0);
  };
  for (const auto& [order, name] : kGcOrderNames) {
    nlohmann::json effective;
    CHECK(read("order", name, &effective).order == order);
    CHECK(effective["policies"][0]["order"] == std::string(name));
  }
  for (const auto& [age_by, name] : kGcAgeByNames) {
    nlohmann::json effective;
    CHECK(read("age_by", name, &effective).age_by == age_by);
    CHECK(effective["policies"][0]["age_by"] == std::string(name));
  }
  nlohmann::json effective;
  CHECK(testing::ConfigErrorOf([&] {
          read("order", "newest_first", &effective);
        }).find(R"(expected one of "oldest_first", "largest_first", got "newest_first")") !=
        std::string::npos);
  CHECK(testing::ConfigErrorOf([&] {
          read("age_by", "btime", &effective);
        }).find(R"(expected one of "mtime", "ctime", "atime", got "btime")") != std::string::npos);
}

}  // namespace
}  // namespace cachewarden
