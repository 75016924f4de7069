// AVX-512 instantiation of the row / element-wise kernels (ops_simd.h).
#include "kernels/cpu/ops_simd.h"
#include "kernels/cpu/simd_avx512.h"

namespace tf::kernels::ops::avx512 {

const OpsTable& table() {
  static const OpsTable t = simd::make_ops_table<simd::Avx512>();
  return t;
}

}  // namespace tf::kernels::ops::avx512
