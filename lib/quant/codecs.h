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

// legacy.cpp: 32-element blocks
void quantize_q4_0(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q4_0(const void* src, float* dst, int64_t n);
void quantize_q4_1(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q4_1(const void* src, float* dst, int64_t n);
void quantize_q5_0(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q5_0(const void* src, float* dst, int64_t n);
void quantize_q5_1(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q5_1(const void* src, float* dst, int64_t n);
void quantize_q8_0(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q8_0(const void* src, float* dst, int64_t n);

// k_quants.cpp: 256-element super-blocks
void quantize_q2_k(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q2_k(const void* src, float* dst, int64_t n);
void quantize_q3_k(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q3_k(const void* src, float* dst, int64_t n);
void quantize_q4_k(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void quantize_q5_k(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void quantize_q6_k(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void quantize_q8_k(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_q8_k(const void* src, float* dst, int64_t n);

// iq4.cpp: the non-linear 4-bit codebook
void quantize_iq4_nl(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq4_nl(const void* src, float* dst, int64_t n);
void quantize_iq4_xs(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq4_xs(const void* src, float* dst, int64_t n);

// ternary.cpp
void quantize_tq1_0(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_tq1_0(const void* src, float* dst, int64_t n);
void quantize_tq2_0(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_tq2_0(const void* src, float* dst, int64_t n);

// i_quants.cpp: lattice codebooks (grids in iq_grids.cpp)
void quantize_iq2_xxs(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq2_xxs(const void* src, float* dst, int64_t n);
void quantize_iq2_xs(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq2_xs(const void* src, float* dst, int64_t n);
void quantize_iq2_s(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq2_s(const void* src, float* dst, int64_t n);
void quantize_iq3_xxs(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq3_xxs(const void* src, float* dst, int64_t n);
void quantize_iq3_s(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq3_s(const void* src, float* dst, int64_t n);
void quantize_iq1_s(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq1_s(const void* src, float* dst, int64_t n);
void quantize_iq1_m(const float* src, void* dst, int64_t n, const float* importance);
void dequantize_iq1_m(const void* src, float* dst, int64_t n);

// Q8_1 only exists to quantize activations; ggml has no dequantizer for it.
void quantize_q8_1(const float* src, void* dst, int64_t n, const float* importance);

}  // namespace tf::quant::detail
