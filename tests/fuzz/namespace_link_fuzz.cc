// libFuzzer target: the target of a /proc/<pid>/ns/mnt link ("mnt:[4026531840]").
#include <cstddef>
#include <cstdint>
#include <string>

#include "fs/mount_namespaces.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)cachewarden::ParseNamespaceLink(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
