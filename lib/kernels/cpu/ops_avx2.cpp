// AVX2 instantiation of the row / element-wise kernels (ops_simd.h).
#include "kernels/cpu/ops_simd.h"
#include "kernels/cpu/simd_avx2.h"

namespace tf::kernels::ops::avx2 {

const OpsTable& table() {
  static const OpsTable t = simd::make_ops_table<simd::Avx2>();
  return t;
}

}  // namespace tf::kernels::ops::avx2
