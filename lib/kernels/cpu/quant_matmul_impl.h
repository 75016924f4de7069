// Internals of matmul for the ggml block types (Q4_0 … IQ4_XS): what the
// per-ISA files quant_matmul.cpp (scalar), quant_matmul_avx2.cpp and
// quant_matmul_avx512.cpp share. Each registers its kernels into the
// IsaTable::quant slots of its ISA level (matmul_impl.h).
//
// The activations are quantized once per call into ggml's vec_dot_type of
// the weight type, with ggml's own rounding (what llama.cpp computes with):
//   Q8_0 (d: f16)          for Q4_0, Q5_0, Q8_0, IQ4_NL
//   Q8_1 (d, s = d·Σq: f16) for Q4_1, Q5_1
//   Q8_K (d: f32, bsums)   for Q2_K … Q6_K, IQ4_XS
// and every dot product is then an integer dot product per block (or sub-
// block) scaled in f32, as in ggml. Other block types (the i-quants with
// grids, the ternary types) dequantize a W row and run an f32 dot: correct,
// not fast.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/matmul_impl.h"
#include "quant/blocks.h"
#include "tf/dtype.h"
#include "tf/quant.h"

namespace tf::kernels::mm {

enum class XFormat { Q8_0, Q8_1, Q8_K };

size_t x_row_bytes_q8_0(size_t K);
size_t x_row_bytes_q8_1(size_t K);
size_t x_row_bytes_q8_K(size_t K);

namespace scalar {
void add_quant_kernels(IsaTable& t);
}
namespace avx2 {
void add_quant_kernels(IsaTable& t);
}
namespace avx512 {
void add_quant_kernels(IsaTable& t);
}

// The helpers below are compiled into files with different ISA flags. An
// inline function or template shared by name across them could be merged by
// the linker into the copy built for AVX-512 and then run on the scalar path;
// internal linkage gives every file its own copy.
namespace {

// ---------------------------------------------------------------- activations

// Rounds to the nearest integer, ties to even: ggml's nearest_int (the
// 1.5·2²³ trick) and _mm256_round_ps(_MM_ROUND_NEAREST) both do this for the
// |v| <= 2²² that quantization produces.
inline int round_even(float v) {
  float t = v + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// ---------------------------------------------------------------- scales of the k-quants

// Q4_K / Q5_K: the 8 6-bit scales and 8 6-bit mins packed in 12 bytes
// (ggml's get_scale_min_k4 for j = 0..7).
inline void unpack_k4_scales(const uint8_t* q, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = q[j] & 63;
    mn[j] = q[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    sc[j] = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    mn[j] = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q3_K: the 16 6-bit scales packed in 12 bytes, minus their bias of 32.
inline void unpack_q3k_scales(const uint8_t* packed, int8_t out[16]) {
  uint32_t aux[4];
  std::memcpy(aux, packed, 12);
  const uint32_t tmp = aux[2], m2 = 0x0f0f0f0f, m1 = 0x03030303;
  aux[2] = ((aux[0] >> 4) & m2) | (((tmp >> 4) & m1) << 4);
  aux[3] = ((aux[1] >> 4) & m2) | (((tmp >> 6) & m1) << 4);
  aux[0] = (aux[0] & m2) | (((tmp >> 0) & m1) << 4);
  aux[1] = (aux[1] & m2) | (((tmp >> 2) & m1) << 4);
  std::memcpy(out, aux, 16);
  for (int i = 0; i < 16; ++i) out[i] = int8_t(out[i] - 32);
}

// IQ4_XS: the signed scale of 32-element sub-block ib.
inline int iq4xs_scale(const quant::BlockIQ4_XS& b, int ib) {
  const int ls = ((b.scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b.scales_h >> 2 * ib) & 3) << 4);
  return ls - 32;
}

// ---------------------------------------------------------------- prompt path via f32

// pack_w for any block type: dequantizes W[j][k0 .. k0+kc) (k0 and kc are
// multiples of the block size: the engines' kc is a multiple of 256) into
// the f32 engine's panel dst[k][j] of NR columns.
template <DType T, size_t NR>
void pack_w_dequant(const void* wv, size_t w_stride, size_t n_rows, size_t k0, size_t kc, void* dv) {
  const size_t bs = traits(T).block_size, bb = traits(T).type_size;
  float* dst = static_cast<float*>(dv);
  thread_local std::vector<float> row;
  row.resize(kc);
  for (size_t j = 0; j < NR; ++j) {
    if (j < n_rows) {
      quant::dequantize_row(T, static_cast<const uint8_t*>(wv) + j * w_stride + k0 / bs * bb, row.data(), int64_t(kc));
      for (size_t k = 0; k < kc; ++k) dst[k * NR + j] = row[k];
    } else {
      for (size_t k = 0; k < kc; ++k) dst[k * NR + j] = 0.0f;
    }
  }
}

// dot_rows of the types without integer kernels (x: f32 rows): each W row
// is dequantized once and dotted with every row of x.
template <DType T>
void dot_rows_dequant(const void* xv, size_t x_stride, size_t M, size_t K, const void* wv, size_t w_stride,
                      const float* bias, size_t n0, size_t n1, float* y, size_t ldy) {
  const float* x = static_cast<const float*>(xv);
  const size_t ldx = x_stride / sizeof(float);
  thread_local std::vector<float> row;
  row.resize(K);
  for (size_t n = n0; n < n1; ++n) {
    quant::dequantize_row(T, static_cast<const uint8_t*>(wv) + n * w_stride, row.data(), int64_t(K));
    for (size_t m = 0; m < M; ++m) {
      float s = 0;
      for (size_t k = 0; k < K; ++k) s += x[m * ldx + k] * row[k];
      y[m * ldy + n] = s + (bias ? bias[n] : 0.0f);
    }
  }
}

}  // namespace
}  // namespace tf::kernels::mm
