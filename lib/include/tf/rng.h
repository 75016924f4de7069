// Deterministic random numbers: the same seed gives the same stream on every
// platform and compiler (std::normal_distribution does not promise that).
// xoshiro256** seeded through splitmix64; normals by Box-Muller.
#pragma once
#include <cstdint>

namespace tf {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  uint32_t next_u32() { return uint32_t(next_u64() >> 32); }
  float uniform();   // [0, 1)
  double uniform_f64();
  float normal();    // mean 0, stddev 1
  uint64_t below(uint64_t n);  // uniform in [0, n), unbiased

 private:
  uint64_t s_[4];
  bool has_spare_ = false;
  float spare_ = 0;
};

}  // namespace tf
