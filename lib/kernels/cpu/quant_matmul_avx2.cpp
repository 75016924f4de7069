// AVX2 instantiation of the block-type kernels (quant_matmul_simd.h):
// vpmaddubsw / vpmaddwd dot products, 16 registers, so tiles of 2 W rows by
// up to 2 x rows.
#include <immintrin.h>

#define TF_QUANT_ISA avx2
#include "kernels/cpu/quant_matmul_simd.h"

namespace tf::kernels::mm::avx2 {

void add_quant_kernels(IsaTable& t) { add_all</*R=*/2, /*MB=*/2, /*NR=*/16>(t); }

}  // namespace tf::kernels::mm::avx2
