// Scale (and min) searches shared by the legacy, k- and i-quant families.
// Each one is ggml's (ggml-quants.c) with the same float operations in the
// same order: the quantized bytes depend on every rounding, so "equivalent"
// algebra is not good enough here.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tf::quant {
struct BlockQ8_0;
}
namespace tf::quant::detail {

// Round to nearest, ties to even, for |x| < 2^22: adding 1.5 * 2^23 puts the
// integer part in the low mantissa bits (ggml's nearest_int).
inline int nearest_int(float x) {
  float shifted = x + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// Groups whose absolute maximum is below this are stored as all zeros.
constexpr float kGroupMaxEps = 1e-15f;

// Symmetric codes L in [0, 2*nmax) for x ~ scale * (L - nmax). mode 0: plain
// rounding of max -> -nmax; 1: weights x^2; 2: 1; 3: |x|; 4: sqrt|x| (or the
// given weights when importance is set), then a search over 18 nearby scales
// for the weighted least-squares best; a negative mode stops after the first
// least-squares fit. Returns the scale. (make_qx_quants)
float fit_symmetric(int n, int nmax, const float* x, int8_t* L, int mode, const float* importance);

// Like fit_symmetric for 3-bit codes, with a coordinate-descent refinement of
// single codes instead of the scale search. (make_q3_quants)
float fit_symmetric_q3(int n, int nmax, const float* x, int8_t* L, bool refine);

// Asymmetric codes L in [0, nmax] for x ~ scale * L - min: grid search of
// nstep+1 scales around nmax/(max-min), each followed by the weighted
// least-squares scale and min. *neg_min receives -min (>= 0). use_mad selects
// absolute instead of squared error. The reference k-quant quantizers' fit:
// weights required, a group is constant when max == min. (make_qkx2_quants)
float fit_scale_min_ref(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min,
                        uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);
// fit_scale_min_ref for `groups` groups of n (<= 32) elements, one after the
// other in x, weights and L; neg_min and scales get one value per group.
// Bit-identical to calling it per group; 8 groups at a time run in parallel
// (AVX2 lanes) where the CPU has it.
void fit_scale_min_ref_batch(int groups, int n, int nmax, const float* x, const float* weights, uint8_t* L,
                             float* neg_min, float* scales, float rmin, float rdelta, int nstep, bool use_mad);
// fit_symmetric(n, nmax, ·, ·, mode, ·) for `groups` groups of n elements
// (importance: the groups' weights, or nullptr), bit-identical; mode 1 runs
// 8 groups at a time in AVX2 lanes where the CPU has it.
void fit_symmetric_batch(int groups, int n, int nmax, const float* x, int8_t* L, float* scales, int mode,
                         const float* importance);
namespace avx2 {
int64_t quantize_q8_0(const float* x, tf::quant::BlockQ8_0* y, int64_t blocks);
void fit_symmetric_x8(int n, int nmax, const float* x, int8_t* L, float* scales, const float* importance);
void fit_scale_min_ref_x8(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min,
                          float* scales, float rmin, float rdelta, int nstep, bool use_mad);
}
// The same search as the importance-weighted quantizers run it: weights
// nullptr means x^2, and a group is constant when max <= min.
// (make_qkx3_quants)
float fit_scale_min_weighted(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min,
                             uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// Non-negative x ~ scale * L with L in [0, nmax], weighted; used to quantize
// the sub-block scales of a super-block. (make_qp_quants)
float fit_positive(int n, int nmax, const float* x, uint8_t* L, const float* weights);

}  // namespace tf::quant::detail
