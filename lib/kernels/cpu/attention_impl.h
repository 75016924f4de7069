// Per-ISA pieces of attention (the rest is matmul's dot kernels and ops'
// softmax, see attention.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tf::kernels::attn {

// out[r][d] = Σ_j p[r·p_stride + j] · v[j·v_stride + d] for r < rows, d < hd,
// j < L. v is f32 or (for the _f16 kind) f16.
using PvFn = void (*)(const float* p, size_t p_stride, size_t rows, size_t L, const void* v, size_t v_stride, size_t hd,
                      float* out, size_t out_stride);

struct AttnTable {
  PvFn pv_f32, pv_f16;
};

const AttnTable& attn_table(int level);

namespace avx2 {
const AttnTable& table();
}
namespace avx512 {
const AttnTable& table();
}

}  // namespace tf::kernels::attn
