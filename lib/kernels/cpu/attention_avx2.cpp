// AVX2 instantiation of attention's P·V (attention_simd.h).
#include "kernels/cpu/attention_simd.h"
#include "kernels/cpu/simd_avx2.h"

namespace tf::kernels::attn::avx2 {

const AttnTable& table() {
  static const AttnTable t = simd::make_attn_table<simd::Avx2>();
  return t;
}

}  // namespace tf::kernels::attn::avx2
