// AVX-512 instantiation of attention's P·V (attention_simd.h).
#include "kernels/cpu/attention_simd.h"
#include "kernels/cpu/simd_avx512.h"

namespace tf::kernels::attn::avx512 {

const AttnTable& table() {
  static const AttnTable t = simd::make_attn_table<simd::Avx512>();
  return t;
}

}  // namespace tf::kernels::attn::avx512
