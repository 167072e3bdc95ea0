// libFuzzer target: the config loader, JSON text to Config, every section. A bad config must end in
// ConfigError (naming the key), never in another exception, a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/config.h"
#include "base/config_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    cachewarden::LoadConfigText(text, "fuzz", {});
  } catch (const cachewarden::ConfigError&) {
    // The expected outcome for bad input; anything else escapes and is a finding.
  }
  return 0;
}
