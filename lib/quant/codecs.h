// Per-type row codecs behind tf::quant (quant.cpp's table dispatches to
// them), one file per family. Every quantizer takes one row of n floats (n a
// multiple of its block size) and n importance weights or nullptr, and
// writes n / block_size blocks; the row-wide statistics some of them use
// (sigma^2 of the weighted algorithms) make rows, not blocks, the unit.
#pragma once
#include <cstdint>

namespace tf::quant::detail {

using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n, const float* importance);
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);

#define TF_QUANT_CODEC(name)                                                          \
  void quantize_##name(const float* src, void* dst, int64_t n, const float* importance); \
  void dequantize_##name(const void* src, float* dst, int64_t n)

// legacy.cpp: 32-element blocks
TF_QUANT_CODEC(q4_0);
TF_QUANT_CODEC(q4_1);
TF_QUANT_CODEC(q5_0);
TF_QUANT_CODEC(q5_1);
TF_QUANT_CODEC(q8_0);

// k_quants.cpp: 256-element super-blocks
TF_QUANT_CODEC(q2_k);
TF_QUANT_CODEC(q3_k);
TF_QUANT_CODEC(q4_k);
TF_QUANT_CODEC(q5_k);
TF_QUANT_CODEC(q6_k);
TF_QUANT_CODEC(q8_k);

// iq4.cpp: the non-linear 4-bit codebook
TF_QUANT_CODEC(iq4_nl);
TF_QUANT_CODEC(iq4_xs);

// ternary.cpp
TF_QUANT_CODEC(tq1_0);
TF_QUANT_CODEC(tq2_0);

// i_quants.cpp: lattice codebooks (grids in iq_grids.cpp)
TF_QUANT_CODEC(iq2_xxs);
TF_QUANT_CODEC(iq2_xs);
TF_QUANT_CODEC(iq2_s);
TF_QUANT_CODEC(iq3_xxs);
TF_QUANT_CODEC(iq3_s);
TF_QUANT_CODEC(iq1_s);
TF_QUANT_CODEC(iq1_m);

// Q8_1 only exists to quantize activations; ggml has no dequantizer for it.
void quantize_q8_1(const float* src, void* dst, int64_t n, const float* importance);

#undef TF_QUANT_CODEC

}  // namespace tf::quant::detail
