// Shared helpers of the kernel tests: random data and the ISA levels to run.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tf/cpu_features.h"
#include "tf/half.h"
#include "tf/rng.h"

namespace tf::test {

// Every ISA level this CPU can run (0 scalar, 1 AVX2, 2 AVX-512).
inline std::vector<int> isa_levels() {
  std::vector<int> v;
  for (int l = 0; l <= cpu_features().level(); ++l) v.push_back(l);
  return v;
}

inline std::string level_name(int level) { return level == 0 ? "scalar" : level == 1 ? "avx2" : "avx512"; }

inline std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = rng.normal() * scale;
  return v;
}

inline std::vector<float> random_uniform(size_t n, uint64_t seed, float lo, float hi) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = lo + (hi - lo) * rng.uniform();
  return v;
}

}  // namespace tf::test
