// fit_scale_min_ref for 8 groups at once, one group per AVX2 lane. Each lane
// runs exactly the scalar search of scale_fit.cpp — the same float
// operations in the same order, the same data-dependent updates (as blends)
// — so the codes and scales are bit-identical; only the 8 groups' long
// chains of dependent float adds now run side by side instead of one after
// the other. Entered only through fit_scale_min_ref_batch's dispatch.
//
// Products and sums must stay separately rounded, as in the scalar code
// (built without FMA): no contraction into fused multiply-adds here.
#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>

#include <cstdint>

#include "quant/blocks.h"
#include "tf/half.h"

namespace tf::quant::detail::avx2 {

namespace {

inline __m256i nearest_int8(__m256 v) {  // scale_fit.h's nearest_int, per lane
  const __m256 shifted = _mm256_add_ps(v, _mm256_set1_ps(12582912.f));
  return _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(shifted), _mm256_set1_epi32(0x007fffff)),
                          _mm256_set1_epi32(0x00400000));
}

inline __m256 error_term(__m256 diff, bool use_mad) {
  return use_mad ? _mm256_andnot_ps(_mm256_set1_ps(-0.0f), diff) : _mm256_mul_ps(diff, diff);
}

// out[i] = element i of the 8 groups of n floats that follow each other at p.
inline void transpose8(const float* p, int n, __m256 out[]) {
  for (int i = 0; i < n; ++i)
    out[i] = _mm256_setr_ps(p[i], p[n + i], p[2 * n + i], p[3 * n + i], p[4 * n + i], p[5 * n + i], p[6 * n + i],
                            p[7 * n + i]);
}

}  // namespace

// x, weights: 8 groups of n (n <= 32) one after the other; L: 8 groups of n
// codes; neg_min[g], scale[g] per group.
void fit_scale_min_ref_x8(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min,
                          float* scale_out, float rmin, float rdelta, int nstep, bool use_mad) {
  // transposed: X[i] holds element i of the 8 groups
  __m256 X[32] = {}, W[32] = {};
  transpose8(x, n, X);
  transpose8(weights, n, W);
  __m256 min = X[0], max = X[0];
  __m256 sum_w = W[0];
  __m256 sum_x = _mm256_mul_ps(sum_w, X[0]);
  for (int i = 1; i < n; ++i) {
    min = _mm256_min_ps(X[i], min);  // x < min ? x : min
    max = _mm256_max_ps(X[i], max);  // x > max ? x : max
    sum_w = _mm256_add_ps(sum_w, W[i]);
    sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(W[i], X[i]));
  }
  const __m256 zero = _mm256_setzero_ps();
  min = _mm256_blendv_ps(min, zero, _mm256_cmp_ps(min, zero, _CMP_GT_OQ));  // if (min > 0) min = 0
  const __m256 constant = _mm256_cmp_ps(max, min, _CMP_EQ_OQ);           // these lanes end here
  const __m256 searching = _mm256_cmp_ps(max, min, _CMP_NEQ_UQ);

  const __m256i lo = _mm256_setzero_si256(), hi = _mm256_set1_epi32(nmax);
  __m256i best_L[32];
  __m256 iscale = _mm256_div_ps(_mm256_set1_ps(float(nmax)), _mm256_sub_ps(max, min));
  __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.f), iscale);
  __m256 best_error = zero;
  for (int i = 0; i < n; ++i) {
    const __m256i l = _mm256_max_epi32(lo, _mm256_min_epi32(hi, nearest_int8(_mm256_mul_ps(iscale, _mm256_sub_ps(X[i], min)))));
    best_L[i] = l;
    const __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(l)), min), X[i]);
    best_error = _mm256_add_ps(best_error, _mm256_mul_ps(W[i], error_term(diff, use_mad)));
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = _mm256_div_ps(_mm256_set1_ps(rmin + rdelta * float(is) + float(nmax)), _mm256_sub_ps(max, min));
    __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
    __m256 Laux[32];
    for (int i = 0; i < n; ++i) {
      const __m256i l =
          _mm256_max_epi32(lo, _mm256_min_epi32(hi, nearest_int8(_mm256_mul_ps(iscale, _mm256_sub_ps(X[i], min)))));
      const __m256 lf = _mm256_cvtepi32_ps(l);
      Laux[i] = lf;
      const __m256 wl = _mm256_mul_ps(W[i], lf);
      sum_l = _mm256_add_ps(sum_l, wl);
      sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, lf));
      sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, X[i]));
    }
    const __m256 D = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
    const __m256 solvable = _mm256_cmp_ps(D, zero, _CMP_GT_OQ);
    if (_mm256_movemask_ps(solvable) == 0) continue;
    __m256 this_scale = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), D);
    __m256 this_min = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), D);
    const __m256 positive_min = _mm256_cmp_ps(this_min, zero, _CMP_GT_OQ);
    this_min = _mm256_blendv_ps(this_min, zero, positive_min);
    this_scale = _mm256_blendv_ps(this_scale, _mm256_div_ps(sum_xl, sum_l2), positive_min);
    __m256 error = zero;
    for (int i = 0; i < n; ++i) {
      const __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(this_scale, Laux[i]), this_min), X[i]);
      error = _mm256_add_ps(error, _mm256_mul_ps(W[i], error_term(diff, use_mad)));
    }
    const __m256 better = _mm256_and_ps(_mm256_and_ps(solvable, searching), _mm256_cmp_ps(error, best_error, _CMP_LT_OQ));
    if (_mm256_movemask_ps(better) == 0) continue;
    const __m256i take = _mm256_castps_si256(better);
    for (int i = 0; i < n; ++i) best_L[i] = _mm256_blendv_epi8(best_L[i], _mm256_cvtps_epi32(Laux[i]), take);
    best_error = _mm256_blendv_ps(best_error, error, better);
    scale = _mm256_blendv_ps(scale, this_scale, better);
    min = _mm256_blendv_ps(min, this_min, better);
  }

  alignas(32) float s[8], m[8], c[8];
  alignas(32) int32_t l32[8];
  _mm256_store_ps(s, scale);
  _mm256_store_ps(m, min);
  _mm256_store_ps(c, constant);
  for (int i = 0; i < n; ++i) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(l32), best_L[i]);
    for (int g = 0; g < 8; ++g) L[g * n + i] = c[g] != 0 ? 0 : uint8_t(l32[g]);
  }
  for (int g = 0; g < 8; ++g) {
    neg_min[g] = -m[g];
    scale_out[g] = c[g] != 0 ? 0.f : s[g];
  }
}

// fit_symmetric(n, nmax, x, L, mode 1, importance) for 8 groups of n (<= 32)
// elements: weights x² or importance (8 groups of n, or nullptr).
void fit_symmetric_x8(int n, int nmax, const float* x, int8_t* L, float* scale_out, const float* importance) {
  __m256 X[32] = {}, W[32] = {};
  transpose8(x, n, X);
  if (importance)
    transpose8(importance, n, W);
  else
    for (int i = 0; i < n; ++i) W[i] = _mm256_mul_ps(X[i], X[i]);
  const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
  __m256 max = zero, amax = zero;
  for (int i = 0; i < n; ++i) {
    const __m256 ax = _mm256_andnot_ps(sign, X[i]);
    const __m256 gt = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
    amax = _mm256_blendv_ps(amax, ax, gt);
    max = _mm256_blendv_ps(max, X[i], gt);
  }
  const __m256 dead = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);  // kGroupMaxEps: all-zero groups
  const __m256i lo = _mm256_set1_epi32(-nmax), hi = _mm256_set1_epi32(nmax - 1);
  auto codes = [&](__m256 iscale, int i) {
    return _mm256_max_epi32(lo, _mm256_min_epi32(hi, nearest_int8(_mm256_mul_ps(iscale, X[i]))));
  };
  __m256 iscale = _mm256_div_ps(_mm256_set1_ps(float(-nmax)), max);
  __m256i best_L[32];
  __m256 sumlx = zero, suml2 = zero;
  for (int i = 0; i < n; ++i) {
    const __m256i l = codes(iscale, i);
    best_L[i] = l;
    const __m256 lf = _mm256_cvtepi32_ps(l);
    sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(W[i], X[i]), lf));
    suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(W[i], lf), lf));
  }
  __m256 scale = _mm256_and_ps(_mm256_div_ps(sumlx, suml2), _mm256_cmp_ps(suml2, zero, _CMP_NEQ_UQ));
  __m256 best = _mm256_mul_ps(scale, sumlx);
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = _mm256_div_ps(_mm256_set1_ps(-(float(nmax) + 0.1f * float(is))), max);
    __m256i l_try[32];
    sumlx = suml2 = zero;
    for (int i = 0; i < n; ++i) {
      l_try[i] = codes(iscale, i);
      const __m256 lf = _mm256_cvtepi32_ps(l_try[i]);
      sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(W[i], X[i]), lf));
      suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(W[i], lf), lf));
    }
    const __m256 better = _mm256_and_ps(
        _mm256_cmp_ps(suml2, zero, _CMP_GT_OQ),
        _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
    if (_mm256_movemask_ps(better) == 0) continue;
    const __m256i take = _mm256_castps_si256(better);
    for (int i = 0; i < n; ++i) best_L[i] = _mm256_blendv_epi8(best_L[i], l_try[i], take);
    scale = _mm256_blendv_ps(scale, _mm256_div_ps(sumlx, suml2), better);
    best = _mm256_blendv_ps(best, _mm256_mul_ps(scale, sumlx), better);
  }
  alignas(32) float s[8], d[8];
  alignas(32) int32_t l32[8];
  _mm256_store_ps(s, scale);
  _mm256_store_ps(d, dead);
  for (int i = 0; i < n; ++i) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(l32), best_L[i]);
    for (int g = 0; g < 8; ++g) L[g * n + i] = d[g] != 0 ? int8_t(0) : int8_t(l32[g] + nmax);
  }
  for (int g = 0; g < 8; ++g) scale_out[g] = d[g] != 0 ? 0.f : s[g];
}

// Q8_0 of `blocks` blocks of 32 (legacy.cpp's scalar quantize_q8_0, which is
// ggml's reference): the scale from the block's absolute maximum, the codes
// rounded half away from zero as roundf does — truncate, then step away from
// zero where the exact remainder is at least one half. Returns the number of
// blocks done: it stops before a block holding a NaN, whose maximum depends
// on the scalar loop's order, and leaves it to the caller.
int64_t quantize_q8_0(const float* x, BlockQ8_0* y, int64_t blocks) {
  const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  for (int64_t b = 0; b < blocks; ++b, x += kQK8_0) {
    __m256 v[4], amax = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v[k], v[k], _CMP_UNORD_Q));
    }
    if (_mm256_movemask_ps(nan)) return b;
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, amax);
    float m = 0.0f;
    for (float l : lanes) m = m > l ? m : l;
    const float d = m / 127;
    const float id = d ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      const __m256 s = _mm256_mul_ps(v[k], _mm256_set1_ps(id));
      const __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(s, t)), half, _CMP_GE_OQ);
      const __m256 step = _mm256_and_ps(away, _mm256_or_ps(one, _mm256_and_ps(sign, s)));
      q[k] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
    }
    // The low byte of each int32, as the scalar int8_t cast keeps it (what
    // degenerate scales, e.g. from subnormal blocks, rely on); the packs
    // interleave 128-bit lanes, the permute puts the 32 bytes back in order.
    const __m256i low = _mm256_set1_epi32(0xFF);
    for (__m256i& v : q) v = _mm256_and_si256(v, low);
    const __m256i q16a = _mm256_packus_epi32(q[0], q[1]), q16b = _mm256_packus_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(q16a, q16b),
                                                   _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), q8);
  }
  return blocks;
}

}  // namespace tf::quant::detail::avx2

