// libFuzzer target: durations and sizes as config spells them. A duration that parses must print
// and parse back to itself at the millisecond, the resolution FormatDuration spells.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/units.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = cachewarden::ParseDuration(text)) {
    const auto again = cachewarden::ParseDuration(cachewarden::FormatDuration(*d));
    if (!again || std::chrono::abs(*again - *d) >= std::chrono::milliseconds(1)) std::abort();
    (void)cachewarden::HumanAge(*d);
  }
  if (auto s = cachewarden::ParseSize(text)) {
    (void)s->ToString();
    (void)s->Resolve(std::uint64_t{1} << 40);
    (void)cachewarden::HumanBytes(s->value);
  }
  (void)cachewarden::ShowName(text);
  return 0;
}
