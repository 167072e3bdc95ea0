// libFuzzer target: the buildkitd probe's readers of another process's /proc files and of cgroup
// files (probes/buildkitd_proc.h): stat's start time after the last ')', status's VmRSS and NSpid,
// /proc/<pid>/cgroup lines, `key N` counters, environ with its did-you-mean, and what the exposure
// probe reads of buildkitd's listeners (probes/buildkitd_config.h): its cmdline flags and its
// buildkitd.toml. The first byte picks the reader, so each sees whole inputs of its own.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probes/buildkitd_config.h"
#include "probes/buildkitd_proc.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cachewarden;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      (void)ParseStartTicks(input);
      (void)ParseBootTime(input);
      break;
    case 1:
      (void)ParseVmRssBytes(input);
      (void)ParseInnermostPid(input);
      break;
    case 2:
      (void)ParseProcCgroup(input);
      break;
    case 3:
      (void)ParseKeyedCounter(input, "oom_kill");
      break;
    case 4: {
      // Flags and addresses stay bounded; every address becomes a probe address or none.
      const BuildkitdFlags f = ParseBuildkitdCmdline(input);
      if (f.addresses.size() > kMaxAddresses) __builtin_trap();
      for (const auto& a : f.addresses) {
        if (a.size() > kMaxConfigValue) __builtin_trap();
        (void)ProbeAddressFor(a);
      }
      if (f.config.size() > kMaxConfigValue || f.tls_cert.size() > kMaxConfigValue) {
        __builtin_trap();
      }
      (void)DebugAddressPort(f.debug_address);
      break;
    }
    case 5: {
      BuildkitdGrpcConfig c;
      (void)ParseBuildkitdToml(input, &c);
      if (c.addresses.size() > kMaxAddresses) __builtin_trap();
      (void)MergeBuildkitdListen(ParseBuildkitdCmdline(input), c);
      break;
    }
    default: {
      // Every hint names a variable of the input and a shown name; values stay bounded.
      EnvironmentView view = ViewEnvironment(input);
      for (const auto& [name, value] : view.shown) {
        if (value.size() > 256 || input.find(name) == std::string_view::npos) __builtin_trap();
      }
      for (const auto& h : view.hints) {
        if (h.name.size() > 128 || h.did_you_mean.empty()) __builtin_trap();
      }
    }
  }
  return 0;
}
