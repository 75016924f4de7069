// Per-ISA tables of the row / element-wise kernels behind ops.h. The public
// functions dispatch through ops_table(cpu_level()) and add threading; tests
// call every level's table directly.
#pragma once
#include <cstddef>

#include "kernels/cpu/ops.h"

namespace tf::kernels::ops {

struct OpsTable {
  void (*rms_norm)(const float* x, const float* w, float* y, size_t rows, size_t dim, float eps, bool one_plus_w);
  void (*layer_norm)(const float* x, const float* w, const float* b, float* y, size_t rows, size_t dim, float eps);
  void (*add)(const float* a, const float* b, float* y, size_t n);
  void (*mul)(const float* a, const float* b, float* y, size_t n);
  void (*scale)(const float* x, float s, float* y, size_t n);
  void (*activation)(Activation act, const float* x, float* y, size_t n);
  void (*glu)(Activation act, const float* gate, const float* up, float* y, size_t n);
  void (*soft_cap)(const float* x, float* y, size_t n, float cap);
  void (*softmax)(const float* x, float* y, size_t rows, size_t cols, float scale, float softcap);
  size_t (*argmax)(const float* x, size_t n);
};

const OpsTable& ops_table(int level);

namespace scalar {
const OpsTable& table();
}
namespace avx2 {
const OpsTable& table();
}
namespace avx512 {
const OpsTable& table();
}

}  // namespace tf::kernels::ops
