// libFuzzer target: mountinfo text and its field unescaping, and the lookup of the mount that holds
// a path.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fs/mountinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const cachewarden::MountTable table = cachewarden::ParseMountInfo(text);
  (void)table.Holder("/tmp/earthly/dind/x");
  (void)table.Holder("/");
  for (const auto& e : table.entries) {
    (void)table.FindById(e.parent);
    (void)e.ReadOnly();
  }
  (void)cachewarden::UnescapeMountField(text);
  return 0;
}
