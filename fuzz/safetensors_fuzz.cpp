// libFuzzer target for the safetensors reader: every input must either parse
// or throw tf::Error, and every tensor of a file that parses must be readable
// in full (its bytes, its Tensor view) without leaving the input.
//   scripts/safetensors_fuzz_seeds.py build-fuzz/corpus/safetensors
//   build-fuzz/fuzz/safetensors_fuzz -dict=fuzz/safetensors.dict -max_len=4096 build-fuzz/corpus/safetensors
#include <cstddef>
#include <cstdint>

#include "tf/error.h"
#include "tf/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = tf::safetensors::File::parse_bytes(data, size, "fuzz.safetensors");
    uint64_t sum = 0;
    for (const auto& info : file.tensors()) {
      const uint8_t* p = file.data(info);
      if (p < data || p + info.nbytes() > data + size) __builtin_trap();
      for (uint64_t i = 0; i < info.nbytes(); ++i) sum += p[i];
      tf::Tensor t = file.tensor(info.name);
      if (t.nbytes() != info.nbytes() || t.shape() != info.shape) __builtin_trap();
      if (file.find(info.name) != &info) __builtin_trap();
    }
    for (const auto& [key, value] : file.metadata()) sum += key.size() + value.size();
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const tf::Error&) {
    // rejected cleanly
  }
  return 0;
}
