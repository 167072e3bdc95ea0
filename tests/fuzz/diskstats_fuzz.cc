// libFuzzer target: /proc/diskstats text, looked up for a device name taken from the input's first
// line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "probes/diskstats.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string device = text.substr(0, std::min<std::size_t>(text.find('\n'), 32));
  (void)cachewarden::ParseDiskstats(text, device);
  (void)cachewarden::ParseDiskstats(text, "vda");
  return 0;
}
