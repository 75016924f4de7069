// Byte layouts of ggml's quantized blocks, as GGUF stores them. These are
// file formats: every field, its order and its size are fixed by ggml
// (ggml-common.h), so a block written here is read by llama.cpp and back.
// The quantizers (lib/quant) and the dot-product kernels (lib/kernels/cpu)
// both read them from here.
//
// `d` / `dmin` / `m` are IEEE half floats stored as raw bits (tf::f16 helpers
// in tf/half.h convert them).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tf::quant {

constexpr int kQK4_0 = 32, kQK4_1 = 32, kQK5_0 = 32, kQK5_1 = 32, kQK8_0 = 32, kQK8_1 = 32;
constexpr int kQK4_NL = 32;
constexpr int kQK_K = 256;         // super-block size of the k-quants and i-quants
constexpr int kKScaleSize = 12;    // packed 6-bit scales/mins of Q4_K and Q5_K

// --- legacy 32-element blocks ---------------------------------------------
struct BlockQ4_0 {  // x = d * (q - 8), q in 0..15
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];  // element j in low nibble of qs[j], j+16 in high nibble
};
struct BlockQ4_1 {  // x = d * q + m
  uint16_t d, m;
  uint8_t qs[kQK4_1 / 2];
};
struct BlockQ5_0 {  // x = d * (q - 16); 5th bit of element j in bit j of qh
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
struct BlockQ8_1 {  // activations for Q4_1 / Q5_1: s = d * sum(qs)
  uint16_t d, s;
  int8_t qs[kQK8_1];
};

// --- k-quants: 256-element super-blocks -------------------------------------
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // low 4 bits scale, high 4 bits min, per 16 elements
  uint8_t qs[kQK_K / 4];
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];  // 16 6-bit scales
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];  // 8 6-bit scales and 8 6-bit mins
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
struct BlockQ8_K {  // activations for the k-quants and i-quants; d is f32
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sums of qs per 16 elements
};

// --- i-quants -----------------------------------------------------------------
struct BlockIQ2_XXS {
  uint16_t d;
  uint16_t qs[kQK_K / 8];
};
struct BlockIQ2_XS {
  uint16_t d;
  uint16_t qs[kQK_K / 8];
  uint8_t scales[kQK_K / 32];
};
struct BlockIQ2_S {
  uint16_t d;
  uint8_t qs[kQK_K / 4];
  uint8_t qh[kQK_K / 32];
  uint8_t scales[kQK_K / 32];
};
struct BlockIQ3_XXS {
  uint16_t d;
  uint8_t qs[3 * kQK_K / 8];
};
struct BlockIQ3_S {
  uint16_t d;
  uint8_t qs[kQK_K / 4];
  uint8_t qh[kQK_K / 32];
  uint8_t signs[kQK_K / 8];
  uint8_t scales[kQK_K / 64];
};
struct BlockIQ1_S {
  uint16_t d;
  uint8_t qs[kQK_K / 8];
  uint16_t qh[kQK_K / 32];
};
struct BlockIQ1_M {  // the super-block scale is spread over the top bits of scales
  uint8_t qs[kQK_K / 8];
  uint8_t qh[kQK_K / 16];
  uint8_t scales[kQK_K / 32];
};
struct BlockIQ4_NL {  // x = d * kIQ4NLValues[q]
  uint16_t d;
  uint8_t qs[kQK4_NL / 2];
};
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};

// --- ternary ---------------------------------------------------------------
struct BlockTQ1_0 {  // 5 trits per byte in qs, 4 per byte in qh
  uint8_t qs[(kQK_K - 4 * kQK_K / 64) / 5];
  uint8_t qh[kQK_K / 64];
  uint16_t d;
};
struct BlockTQ2_0 {  // 2 bits per element, x = d * (q - 1)
  uint8_t qs[kQK_K / 4];
  uint16_t d;
};

// The non-uniform 4-bit codebook of IQ4_NL and IQ4_XS.
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ2_XXS) == 66 && sizeof(BlockIQ2_XS) == 74 && sizeof(BlockIQ2_S) == 82);
static_assert(sizeof(BlockIQ3_XXS) == 98 && sizeof(BlockIQ3_S) == 110);
static_assert(sizeof(BlockIQ1_S) == 50 && sizeof(BlockIQ1_M) == 56);
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockTQ1_0) == 54 && sizeof(BlockTQ2_0) == 66);

}  // namespace tf::quant
