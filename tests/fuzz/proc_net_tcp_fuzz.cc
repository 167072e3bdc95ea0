// libFuzzer target: a /proc/<pid>/net/tcp or tcp6 text, as the exposure probe's bind check reads
// it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fs/proc_net_tcp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)cachewarden::ParseProcNetTcp(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
