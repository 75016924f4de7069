// libFuzzer target for config.json parsing: any input must give a Config or
// a tf::Error, never another exception (nlohmann's included) or a crash.
// Seeds: the zoo's config.json files (../shared/models/*/*/config.json).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tf/error.h"
#include "tf/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool lenient : {false, true}) {
    try {
      tf::hf::ParseOptions options;
      options.allow_unknown_fields = lenient;
      tf::hf::Config c = tf::hf::parse_config(text, "fuzz/config.json", options);
      if (c.arch != tf::hf::Arch::Clip && (c.head_dim <= 0 || c.num_kv_heads <= 0)) __builtin_trap();
    } catch (const tf::Error&) {
    }
  }
  return 0;
}
