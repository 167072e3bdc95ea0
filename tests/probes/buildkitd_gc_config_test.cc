#include <catch2/catch.hpp>

#include "probes/buildkitd_config.h"

namespace cachewarden {
namespace {

constexpr std::uint64_t kGiB = 1ULL << 30;

// What Earthly's entrypoint writes (CACHE_SIZE_MB=20480), key order and indentation as logged.
constexpr std::string_view kEarthlyToml = R"(debug = false
root = "/tmp/earthly/buildkit"
insecure-entitlements = [ "security.insecure" ]
[worker.oci]
  enabled = true
  snapshotter = "auto"
  max-parallelism = 20
  gc = true
  networkMode = "cni"
  cniBinaryPath = "/usr/libexec/cni"
  cniConfigPath = "/etc/cni/cni-conf.json"
  [[worker.oci.gcpolicy]]
    all = true
    keepDuration = 1296000
  # gckeepstorage sets storage limit for default gc profile, in MB.
  gckeepstorage = 20480
  [[worker.oci.gcpolicy]]
    keepBytes = 10737418240
    filters = [ "type==source.local", "type==source.git.checkout"]
  [[worker.oci.gcpolicy]]
    all = true
    keepBytes = 21474836480
)";

TEST_CASE("buildkitd gc settings: Earthly's generated config, its gckeepstorage inside a policy",
          "[buildkitd_config]") {
  BuildkitdGcConfig c;
  REQUIRE(ParseBuildkitdGcToml(kEarthlyToml, &c).ok());
  REQUIRE(c.workers.size() == 1);
  const BuildkitdWorkerGc& w = c.workers[0];
  CHECK(w.worker == "oci");
  CHECK(w.enabled == true);
  CHECK(w.gc == true);
  // TOML puts the key in the first policy's table, where buildkitd ignores it.
  CHECK(w.gckeepstorage_raw == 20480);
  CHECK(w.gckeepstorage_misplaced);
  REQUIRE(w.policies.size() == 3);
  CHECK(w.policies[0].all);
  CHECK(w.policies[0].keep_duration_seconds == 1296000);
  CHECK_FALSE(w.policies[0].keep_bytes.set);
  CHECK_FALSE(w.policies[1].all);
  CHECK(w.policies[1].filters ==
        std::vector<std::string>{"type==source.local", "type==source.git.checkout"});
  CHECK(w.policies[1].keep_bytes.set);
  CHECK(w.policies[1].keep_bytes.bytes == 10737418240);
  CHECK(w.policies[2].all);
  CHECK(w.policies[2].keep_bytes.bytes == 21474836480);
  CHECK(w.policies[2].keep_duration_seconds == 0);

  // The largest policy, the same in both readings: the misplaced gckeepstorage plays no part.
  const auto cap = BuildkitdGcCapFor(c, 100 * kGiB);
  REQUIRE(cap);
  CHECK(cap->worker == "oci");
  CHECK(cap->source == "gcpolicy");
  CHECK(cap->bytes == 21474836480);
  CHECK(cap->bytes_if_mb == 21474836480);
  CHECK(BuildkitdGcCapFor(c, 0)->bytes == 21474836480);  // no percentage: the disk is not needed
}

TEST_CASE("buildkitd gc settings: a worker's own gckeepstorage has two readings",
          "[buildkitd_config]") {
  BuildkitdGcConfig c;
  REQUIRE(ParseBuildkitdGcToml("[worker.oci]\n  gc = true\n  gckeepstorage = 20480\n", &c).ok());
  REQUIRE(c.workers.size() == 1);
  CHECK(c.workers[0].gckeepstorage_raw == 20480);
  CHECK_FALSE(c.workers[0].gckeepstorage_misplaced);
  auto cap = BuildkitdGcCapFor(c, 100 * kGiB);
  REQUIRE(cap);
  CHECK(cap->source == "gckeepstorage");
  CHECK(cap->bytes == 20480);
  CHECK(cap->bytes_if_mb == 20480ULL << 20);
  CHECK(cap->Guessed() == 20480ULL << 20);  // 20 KB is no cache cap: MB
  REQUIRE(ParseBuildkitdGcToml("[worker.oci]\n  gckeepstorage = 20000000000\n", &c).ok());
  cap = BuildkitdGcCapFor(c, 100 * kGiB);
  REQUIRE(cap);
  CHECK(cap->Guessed() == 20000000000);  // 20 GB in bytes, not 18 PiB in MB

  // With a gcpolicy, gckeepstorage is not used.
  REQUIRE(ParseBuildkitdGcToml("[worker.oci]\ngckeepstorage = 20480\n[[worker.oci.gcpolicy]]\n"
                               "keepBytes = \"1GB\"\n",
                               &c)
              .ok());
  cap = BuildkitdGcCapFor(c, 100 * kGiB);
  REQUIRE(cap);
  CHECK(cap->bytes == kGiB);
  CHECK(cap->bytes_if_mb == kGiB);
  CHECK(cap->Guessed() == kGiB);

  // A string gckeepstorage is BuildKit's disk space: no ambiguity.
  REQUIRE(ParseBuildkitdGcToml("[worker.oci]\ngckeepstorage = \"20GB\"\n", &c).ok());
  CHECK_FALSE(c.workers[0].gckeepstorage_raw);
  cap = BuildkitdGcCapFor(c, 100 * kGiB);
  REQUIRE(cap);
  CHECK(cap->bytes == 20 * kGiB);
  CHECK(cap->bytes_if_mb == 20 * kGiB);

  // GC off, a disabled worker, or nothing set: no cap.
  REQUIRE(ParseBuildkitdGcToml("[worker.oci]\ngc = false\ngckeepstorage = 20480\n", &c).ok());
  CHECK_FALSE(BuildkitdGcCapFor(c, 100 * kGiB));
  REQUIRE(ParseBuildkitdGcToml("[worker.oci]\nenabled = false\ngckeepstorage = 1\n", &c).ok());
  CHECK_FALSE(BuildkitdGcCapFor(c, 100 * kGiB));
  REQUIRE(ParseBuildkitdGcToml("[worker.oci]\ngc = true\n", &c).ok());
  CHECK_FALSE(BuildkitdGcCapFor(c, 100 * kGiB));
  REQUIRE(ParseBuildkitdGcToml("debug = true\n", &c).ok());
  CHECK(c.workers.empty());
  CHECK_FALSE(BuildkitdGcCapFor(c, 100 * kGiB));
}

TEST_CASE("buildkitd gc settings: upstream style, percentages and sizes resolved against the disk",
          "[buildkitd_config]") {
  BuildkitdGcConfig c;
  REQUIRE(ParseBuildkitdGcToml(R"(
[worker.oci]
  gc = true
  reservedSpace = "10%"
  maxUsedSpace = "100GB"
  minFreeSpace = "20%"
[worker.containerd]
  gc = true
  [[worker.containerd.gcpolicy]]
    keepDuration = "48h"
    filters = [ "type==source.local", "type==exec.cachemount" ]
    maxUsedSpace = "512MB"
  [[worker.containerd.gcpolicy]]
    all = true
    keepDuration = "1h30m"
    reservedSpace = "1.5GiB"
)",
                               &c)
              .ok());
  REQUIRE(c.workers.size() == 2);
  const BuildkitdWorkerGc& oci = c.workers[0];
  CHECK(oci.worker == "oci");
  CHECK(oci.reserved_space.is_percent);
  CHECK(oci.reserved_space.percent == 10);
  CHECK(oci.reserved_space.Resolve(100 * kGiB) == 10 * kGiB);
  CHECK_FALSE(oci.reserved_space.Resolve(0));  // a percentage of an unknown disk
  CHECK(oci.max_used_space.Resolve(0) == 100 * kGiB);
  CHECK(oci.min_free_space.Resolve(100 * kGiB) == 20 * kGiB);
  CHECK(oci.policies.empty());

  const BuildkitdWorkerGc& ctd = c.workers[1];
  CHECK(ctd.worker == "containerd");
  REQUIRE(ctd.policies.size() == 2);
  CHECK(ctd.policies[0].keep_duration_seconds == 172800);
  CHECK(ctd.policies[0].filters.size() == 2);
  CHECK(ctd.policies[0].max_used_space.bytes == 536870912);
  CHECK(ctd.policies[1].keep_duration_seconds == 5400);
  CHECK(ctd.policies[1].reserved_space.bytes == 1610612736);

  // oci: max(10% of 100 GiB, 100 GiB); containerd: max(512 MiB, 1.5 GiB). The larger worker wins.
  auto cap = BuildkitdGcCapFor(c, 100 * kGiB);
  REQUIRE(cap);
  CHECK(cap->worker == "oci");
  CHECK(cap->source == "maxUsedSpace");
  CHECK(cap->bytes == 100 * kGiB);
  // On a 2 TiB disk the reserved 10% is larger than maxUsedSpace.
  cap = BuildkitdGcCapFor(c, 2048 * kGiB);
  REQUIRE(cap);
  CHECK(cap->source == "reservedSpace");
  CHECK(cap->bytes == 2048 * kGiB / 10);
  // A percentage on a disk of unknown size: the cap is unknown, not the other workers'.
  CHECK_FALSE(BuildkitdGcCapFor(c, 0));
}

TEST_CASE("buildkitd gc settings: sizes as go-units reads them and durations as Go does",
          "[buildkitd_config]") {
  auto space = [](std::string_view value) {
    BuildkitdGcConfig c;
    const std::string toml = "[worker.oci]\nmaxUsedSpace = " + std::string(value) + "\n";
    if (!ParseBuildkitdGcToml(toml, &c).ok()) return std::optional<BuildkitdDiskSpace>();
    return std::optional<BuildkitdDiskSpace>(c.workers.at(0).max_used_space);
  };
  CHECK(space("\"512MB\"")->bytes == 536870912);
  CHECK(space("\"512mb\"")->bytes == 536870912);
  CHECK(space("\"10GB\"")->bytes == 10 * kGiB);
  CHECK(space("\"10 g\"")->bytes == 10 * kGiB);
  CHECK(space("\"100k\"")->bytes == 102400);
  CHECK(space("\"100KiB\"")->bytes == 102400);
  CHECK(space("\"2t\"")->bytes == 2048 * kGiB);
  CHECK(space("\"1p\"")->bytes == 1ULL << 50);
  CHECK(space("\"100b\"")->bytes == 100);
  CHECK(space("\"100\"")->bytes == 100);
  CHECK(space("10737418240")->bytes == 10737418240);
  CHECK(space("\"0\"")->set);
  CHECK_FALSE(space("\"\"")->set);  // empty: not set, as BuildKit reads it
  CHECK(space("\"20%\"")->percent == 20);
  for (std::string_view bad : {"\"10XB\"", "\"10kbb\"", "\"10i\"", "\"GB\"", "\"1.2.3GB\"",
                               "\"10.5%\"", "\"-1\"", "-1", "1.5", "true", "[1]", "\"99999p\""}) {
    INFO(bad);
    CHECK_FALSE(space(bad));
  }

  auto duration = [](std::string_view value) {
    BuildkitdGcConfig c;
    const std::string toml = "[[worker.oci.gcpolicy]]\nkeepDuration = " + std::string(value) + "\n";
    if (!ParseBuildkitdGcToml(toml, &c).ok()) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(c.workers.at(0).policies.at(0).keep_duration_seconds);
  };
  CHECK(duration("\"48h\"") == 172800);
  CHECK(duration("\"1h30m\"") == 5400);
  CHECK(duration("\"90s\"") == 90);
  CHECK(duration("\"1.5h\"") == 5400);
  CHECK(duration("\"1500ms\"") == 1);   // whole seconds, truncated
  CHECK(duration("\"1h1h\"") == 7200);  // Go sums repeated units
  CHECK(duration("\"0\"") == 0);
  CHECK(duration("\"3600\"") == 3600);  // an integer string: seconds
  CHECK(duration("1296000") == 1296000);
  CHECK(duration("\"\"") == 0);
  for (std::string_view bad :
       {"\"48\"h", "\"2d\"", "\"h\"", "\"1.2.3s\"", "true", "1.5", "\"9999999999h\""}) {
    INFO(bad);
    CHECK_FALSE(duration(bad));
  }
}

TEST_CASE("buildkitd gc settings: a key of the wrong type is an error naming it",
          "[buildkitd_config]") {
  auto error = [](std::string_view toml) {
    BuildkitdGcConfig c;
    c.workers.resize(1);
    Status s = ParseBuildkitdGcToml(toml, &c);
    CHECK(s.code() == StatusCode::kParse);
    CHECK(c.workers.empty());  // nothing half-read
    return s.message();
  };
  CHECK(error("[[worker.oci.gcpolicy]]\nall = true\n[[worker.oci.gcpolicy]]\nkeepBytes = "
              "\"lots\"\n") ==
        "worker.oci.gcpolicy[1].keepBytes: expected an integer, a size like \"10GB\" or a "
        "percentage, got \"lots\"");
  CHECK(error("[[worker.oci.gcpolicy]]\nkeepBytes = true\n") ==
        "worker.oci.gcpolicy[0].keepBytes: expected an integer, a size like \"10GB\" or a "
        "percentage");
  CHECK(error("[[worker.oci.gcpolicy]]\nkeepDuration = \"2 days\"\n") ==
        "worker.oci.gcpolicy[0].keepDuration: expected an integer of seconds or a duration like "
        "\"48h\", got \"2 days\"");
  CHECK(error("[[worker.containerd.gcpolicy]]\nfilters = \"type==source.local\"\n") ==
        "worker.containerd.gcpolicy[0].filters: expected a list of strings, got "
        "\"type==source.local\"");
  CHECK(error("[[worker.oci.gcpolicy]]\nfilters = [1]\n") ==
        "worker.oci.gcpolicy[0].filters: expected a list of strings");
  CHECK(error("[[worker.oci.gcpolicy]]\nall = \"yes\"\n") ==
        "worker.oci.gcpolicy[0].all: expected true or false, got \"yes\"");
  CHECK(error("[worker.oci]\ngc = 1\n") == "worker.oci.gc: expected true or false");
  CHECK(error("[worker.oci]\nenabled = \"true\"\n") ==
        "worker.oci.enabled: expected true or false, got \"true\"");
  CHECK(error("[worker.oci]\ngckeepstorage = true\n") ==
        "worker.oci.gckeepstorage: expected an integer, a size like \"10GB\" or a percentage");
  CHECK(error("[worker.oci]\nreservedSpace = \"ten\"\n") ==
        "worker.oci.reservedSpace: expected an integer, a size like \"10GB\" or a percentage, "
        "got \"ten\"");
  CHECK(error("[worker.oci]\nmaxUsedSpace = 1.5\n") ==
        "worker.oci.maxUsedSpace: expected an integer, a size like \"10GB\" or a percentage");
  CHECK(error("[worker.oci]\nminFreeSpace = \"5.5%\"\n") ==
        "worker.oci.minFreeSpace: expected an integer, a size like \"10GB\" or a percentage, "
        "got \"5.5%\"");
  CHECK(error("[worker.oci]\ngcpolicy = 1\n") == "worker.oci.gcpolicy: expected a list of tables");
  CHECK(error("[worker.oci]\ngcpolicy = [1]\n") == "worker.oci.gcpolicy[0]: expected a table");
  CHECK(error("worker = 1\n") == "worker: expected a table");
  CHECK(error("[worker]\noci = 1\n") == "worker.oci: expected a table");
  CHECK_THAT(error("[worker.oci\n"), Catch::StartsWith("line 1, column"));
}

TEST_CASE("buildkitd gc settings: policies and filters are bounded, unknown keys ignored",
          "[buildkitd_config]") {
  std::string toml = "[worker.oci]\nfuture-key = { a = 1 }\n";
  for (int i = 0; i < 40; ++i) {
    toml += "[[worker.oci.gcpolicy]]\nunknown = 1\nkeepBytes = " + std::to_string(i + 1) +
            "\nfilters = [";
    for (int f = 0; f < 40; ++f) toml += "\"type==" + std::string(2000, 'x') + "\",";
    toml += "]\n";
  }
  toml += "[worker.other]\ngc = \"whatever\"\n";
  BuildkitdGcConfig c;
  REQUIRE(ParseBuildkitdGcToml(toml, &c).ok());
  REQUIRE(c.workers.size() == 1);
  REQUIRE(c.workers[0].policies.size() == kMaxGcPolicies);
  CHECK(c.workers[0].policies[0].filters.size() == kMaxGcFilters);
  CHECK(c.workers[0].policies[0].filters[0].size() <= kMaxConfigValue);
  CHECK(BuildkitdGcCapFor(c, 0)->bytes == kMaxGcPolicies);
}

}  // namespace
}  // namespace cachewarden
