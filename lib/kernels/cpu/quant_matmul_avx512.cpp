// AVX512-VNNI instantiation of the block-type kernels (quant_matmul_simd.h):
// vpdpbusd / vpdpwssd on 256-bit vectors (EVEX, so 32 registers: tiles of
// 4 W rows by up to 2 x rows). matmul uses this table only on CPUs with
// AVX512-VNNI; others at level 2 get the AVX2 kernels.
#include "kernels/cpu/avx512_intrin.h"

#define TF_QUANT_ISA avx512
#include "kernels/cpu/quant_matmul_simd.h"

namespace tf::kernels::mm::avx512 {

void add_quant_kernels(IsaTable& t) { add_all</*R=*/4, /*MB=*/2, /*NR=*/32>(t); }

}  // namespace tf::kernels::mm::avx512
