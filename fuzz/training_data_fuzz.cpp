// libFuzzer target for the training-data and training-state readers: an IDX
// array (first input byte 0) or a training_state.zst (otherwise) must either
// parse or throw tf::Error, and what parses must be self-consistent.
//   build-fuzz/fuzz/training_data_fuzz -max_len=4096 corpus/
#include <cstddef>
#include <cstdint>
#include <span>

#include "tf/checkpoint.h"
#include "tf/error.h"
#include "tf/train_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  try {
    if (data[0] == 0) {
      const tf::train::IdxArray a = tf::train::parse_idx(rest, "fuzz.idx");
      uint64_t count = 1;
      for (int64_t d : a.dims) count *= uint64_t(d);
      if (count != a.data.size()) __builtin_trap();
    } else {
      const tf::train::TrainingState s = tf::train::parse_training_state(rest, "fuzz.zst");
      uint64_t floats = 0;
      for (const auto& group : s.optimizer.groups)
        for (const auto& p : group)
          for (const auto& b : p.buffers) floats += b.data.size();
      // the buffers come from the payload, which zstd expands at most ~32768:1
      if (floats * 4 > rest.size() * 32768 + (1u << 20)) __builtin_trap();
    }
  } catch (const tf::Error&) {
    // rejected cleanly
  }
  return 0;
}
