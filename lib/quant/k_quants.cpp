// The k-quants: 256-element super-blocks of 16 or 32-element sub-blocks whose
// scales (and mins) are themselves quantized against one f16 super-scale.
// Q2_K Q3_K Q4_K Q5_K Q6_K, and Q8_K (activations of the k/i-quant dots).
//
// Without importance weights each type runs ggml's reference quantizer; with
// them, the weighted search (importance * sqrt(sigma^2 + x^2)) of
// ggml's quantize_row_*_impl. Either way, once the scales are rounded, every
// code is re-derived from the stored (f16-rounded) scales, so that the codes
// fit the scales a reader will multiply them by.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/scale_fit.h"
#include "tf/half.h"

namespace tf::quant::detail {

namespace {

// 2-bit codes of a super-block: byte l of each 32-byte group holds elements
// l, l+32, l+64, l+96 of that 128-element half, lowest bits first.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

float sum_of_squares(const float* x, int n) {
  float s = 0;
  for (int j = 0; j < n; ++j) s += x[j] * x[j];
  return s;
}

// ---- Q4_K / Q5_K: 8 6-bit scales and 8 6-bit mins in 12 bytes. The first four
// of each sit whole in bytes 0-3 (scales) and 4-7 (mins); the last four keep
// their low nibbles in bytes 8-11 and their top two bits in the spare top bits
// of bytes 0-7.
void set_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* scales) {
  if (j < 4) {
    scales[j] = ls;
    scales[j + 4] = lm;
  } else {
    scales[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
    scales[j - 4] |= uint8_t((ls >> 4) << 6);
    scales[j - 0] |= uint8_t((lm >> 4) << 6);
  }
}

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

// Re-derives the codes (0..nmax) of the 8 sub-blocks from the stored scales.
void requantize_k4(const float* x, const uint8_t* scales, uint16_t d16, uint16_t dmin16, int nmax, uint8_t* L) {
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, &sc, &m);
    const float d = f16_to_f32(d16) * sc;
    if (!d) continue;
    const float dm = f16_to_f32(dmin16) * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

// Sub-block scales and mins of Q4_K / Q5_K (nmax 15 / 31) into y's d, dmin,
// scales, and the final codes into L.
template <class Block>
void fit_k4_block(const float* x, const float* importance, int nmax, Block& y, uint8_t* L) {
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float weights[32];
  uint8_t Laux[32];
  if (!importance) {
    // Reference: weights av|x| + |x| per sub-block, scales rounded against
    // the largest one.
    const float rmin = nmax == 15 ? -1.f : -0.5f;
    const int nstep = nmax == 15 ? 20 : 15;
    float max_scale = 0, max_min = 0;
    float all_weights[kQK_K];
    for (int j = 0; j < kQK_K / 32; ++j) {
      const float av_x = std::sqrt(sum_of_squares(x + 32 * j, 32) / 32);
      for (int l = 0; l < 32; ++l) all_weights[32 * j + l] = av_x + std::fabs(x[32 * j + l]);
    }
    fit_scale_min_ref_batch(kQK_K / 32, 32, nmax, x, all_weights, L, mins, scales, rmin, 0.1f, nstep, false);
    for (int j = 0; j < kQK_K / 32; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < kQK_K / 32; ++j) {
      // ggml narrows to uint8_t before clipping to 63
      const uint8_t ls = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
      const uint8_t lm = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
      set_scale_min_k4(j, ls, lm, y.scales);
    }
    y.d = f32_to_f16(max_scale / 63.f);
    y.dmin = f32_to_f16(max_min / 63.f);
  } else {
    const float sigma2 = 2 * sum_of_squares(x, kQK_K) / kQK_K;
    float sw[kQK_K / 32];
    uint8_t Ls[kQK_K / 32], Lm[kQK_K / 32];
    for (int j = 0; j < kQK_K / 32; ++j) {
      const float* qw = importance + 32 * j;
      for (int l = 0; l < 32; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
      float sumw = 0;
      for (int l = 0; l < 32; ++l) sumw += weights[l];
      sw[j] = sumw;
      scales[j] =
          fit_scale_min_weighted(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    const float d_block = fit_positive(kQK_K / 32, 63, scales, Ls, sw);
    const float m_block = fit_positive(kQK_K / 32, 63, mins, Lm, sw);
    for (int j = 0; j < kQK_K / 32; ++j)
      set_scale_min_k4(j, std::min<uint8_t>(63, Ls[j]), std::min<uint8_t>(63, Lm[j]), y.scales);
    y.d = f32_to_f16(d_block);
    y.dmin = f32_to_f16(m_block);
  }
  requantize_k4(x, y.scales, y.d, y.dmin, nmax, L);
}

// ---- Q3_K: 16 6-bit scales (offset by 32) in 12 bytes: low nibbles of
// scales 0-7 / 8-15 in the low / high nibbles of bytes 0-7, top two bits of
// scale j in bits 2*(j/4) of byte 8 + j%4.
void set_scale_q3k(int j, int l, uint8_t* scales) {
  if (j < 8) {
    scales[j] = uint8_t(l & 0xF);
  } else {
    scales[j - 8] |= uint8_t((l & 0xF) << 4);
  }
  l >>= 4;
  scales[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
}

int get_scale_q3k(int j, const uint8_t* scales) {
  int sc = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
  return (sc | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

// Codes 0..7 in L (ggml's int8 buffer) into hmask (bit 2) and qs (bits 0-1).
// hmask: bit b of byte m is element 32*b + m.
void pack_q3k(int8_t* L, BlockQ3_K& y) {
  std::memset(y.hmask, 0, sizeof y.hmask);
  int m = 0;
  uint8_t hm = 1;
  for (int j = 0; j < kQK_K; ++j) {
    if (L[j] > 3) {
      y.hmask[m] |= hm;
      L[j] = int8_t(L[j] - 4);
    }
    if (++m == kQK_K / 8) {
      m = 0;
      hm = uint8_t(hm << 1);
    }
  }
  pack_2bit(reinterpret_cast<const uint8_t*>(L), y.qs);
}

void requantize_q3k(const float* x, const BlockQ3_K& y, int8_t* L) {
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = f16_to_f32(y.d) * int8_t(get_scale_q3k(j, y.scales));
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-4, std::min(3, l)) + 4);
    }
  }
}

// ---- Q6_K: codes 0..63; low nibbles in ql, top two bits in qh, both in the
// same 128-element interleave as the 2-bit packing.
void pack_q6k(const int8_t* L, BlockQ6_K& y) {
  uint8_t* ql = y.ql;
  uint8_t* qh = y.qh;
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l + 0] & 0xF;
      const uint8_t q2 = L[j + l + 32] & 0xF;
      const uint8_t q3 = L[j + l + 64] & 0xF;
      const uint8_t q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = uint8_t(q1 | (q3 << 4));
      ql[l + 32] = uint8_t(q2 | (q4 << 4));
      qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                      ((L[j + l + 96] >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

}  // namespace

// ---------------------------------------------------------------- Q2_K
void quantize_q2_k(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ2_K*>(dst);
  uint8_t L[kQK_K];
  uint8_t Laux[16];
  float weights[16];
  float mins[kQK_K / 16];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    const float* qw_block = importance ? importance + kQK_K * i : nullptr;
    float dm, mm;  // the super-block scale and min as stored
    if (!qw_block) {
      // Reference: mean-absolute-deviation fits weighted by |x|, 4-bit
      // scales and mins rounded against the largest.
      const float q4scale = 15.f;
      float max_scale = 0, max_min = 0;
      float all_weights[kQK_K];
      for (int l = 0; l < kQK_K; ++l) all_weights[l] = std::fabs(x[l]);
      fit_scale_min_ref_batch(kQK_K / 16, 16, 3, x, all_weights, L, mins, scales, -0.5f, 0.1f, 15, true);
      for (int j = 0; j < kQK_K / 16; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
      }
      if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
        y[i].d = f32_to_f16(max_scale / q4scale);
      } else {
        std::memset(y[i].scales, 0, sizeof y[i].scales);
        y[i].d = f32_to_f16(0.f);
      }
      if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] |= uint8_t(nearest_int(iscale * mins[j]) << 4);
        y[i].dmin = f32_to_f16(max_min / q4scale);
      } else {
        y[i].dmin = f32_to_f16(0.f);
      }
    } else {
      float sw[kQK_K / 16];
      uint8_t Ls[kQK_K / 16], Lm[kQK_K / 16];
      const float sigma2 = sum_of_squares(x, kQK_K) / kQK_K;
      for (int j = 0; j < kQK_K / 16; ++j) {
        const float* qw = qw_block + 16 * j;
        for (int l = 0; l < 16; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        sw[j] = 0;
        for (int l = 0; l < 16; ++l) sw[j] += weights[l];
        scales[j] =
            fit_scale_min_weighted(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
      }
      y[i].d = f32_to_f16(fit_positive(kQK_K / 16, 15, scales, Ls, sw));
      y[i].dmin = f32_to_f16(fit_positive(kQK_K / 16, 15, mins, Lm, sw));
      for (int j = 0; j < kQK_K / 16; ++j) y[i].scales[j] = uint8_t(Ls[j] | (Lm[j] << 4));
    }
    dm = f16_to_f32(y[i].d);
    mm = f16_to_f32(y[i].dmin);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = dm * (y[i].scales[j] & 0xF);
      if (!d) continue;
      const float m = mm * (y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int((x[16 * j + ii] + m) / d);
        L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

void dequantize_q2_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const float min = f16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * int8_t((q[l + 16 * part] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// ---------------------------------------------------------------- Q3_K
void quantize_q3_k(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ3_K*>(dst);
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    std::memset(y[i].scales, 0, sizeof y[i].scales);
    if (!importance) {
      float max_scale = 0, amax = 0;
      for (int j = 0; j < kQK_K / 16; ++j) {
        scales[j] = fit_symmetric_q3(16, 4, x + 16 * j, L + 16 * j, true);
        const float scale = std::fabs(scales[j]);
        if (scale > amax) {
          amax = scale;
          max_scale = scales[j];
        }
      }
      if (max_scale) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < kQK_K / 16; ++j) {
          const int8_t l = int8_t(nearest_int(iscale * scales[j]));  // ggml narrows first
          set_scale_q3k(j, std::max<int>(-32, std::min<int>(31, l)) + 32, y[i].scales);
        }
        y[i].d = f32_to_f16(1 / iscale);
      } else {
        y[i].d = f32_to_f16(0.f);
      }
    } else {
      float weight[16];
      float sw[kQK_K / 16];
      int8_t Ls[kQK_K / 16];
      const float* qw_block = importance + kQK_K * i;
      const float sigma2 = 2 * sum_of_squares(x, kQK_K) / kQK_K;
      for (int j = 0; j < kQK_K / 16; ++j) {
        const float* qw = qw_block + 16 * j;
        for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l) sumw += weight[l];
        sw[j] = sumw;
        scales[j] = fit_symmetric(16, 4, x + 16 * j, L + 16 * j, 1, weight);
      }
      const float d_block = fit_symmetric(kQK_K / 16, 32, scales, Ls, 1, sw);
      for (int j = 0; j < kQK_K / 16; ++j) set_scale_q3k(j, Ls[j], y[i].scales);
      y[i].d = f32_to_f16(d_block);
    }
    requantize_q3k(x, y[i], L);
    pack_q3k(L, y[i]);
  }
}

void dequantize_q3_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d_all = f16_to_f32(x[i].d);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d_all * get_scale_q3k(is++, x[i].scales);
          for (int l = 16 * part; l < 16 * part + 16; ++l)
            *y++ = dl * (int8_t((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        }
      }
    }
  }
}

// ---------------------------------------------------------------- Q4_K
void quantize_q4_k(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ4_K*>(dst);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    fit_k4_block(x, importance ? importance + kQK_K * i : nullptr, 15, y[i], L);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < kQK_K; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
  }
}

void dequantize_q4_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const float min = f16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int is = 0; is < 8; is += 2, q += 32) {
      uint8_t sc, m;
      get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

// ---------------------------------------------------------------- Q5_K
void quantize_q5_k(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ5_K*>(dst);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    fit_k4_block(x, importance ? importance + kQK_K * i : nullptr, 31, y[i], L);
    // fifth bits: element 64*k + j in bit 2k of qh[j], element 64*k + 32 + j in bit 2k+1
    uint8_t* qh = y[i].qh;
    uint8_t* ql = y[i].qs;
    std::memset(qh, 0, kQK_K / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int b = 0; b < kQK_K; b += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[b + j];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        int l2 = L[b + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = uint8_t(l1 | (l2 << 4));
      }
      m1 = uint8_t(m1 << 2);
      m2 = uint8_t(m2 << 2);
    }
  }
}

void dequantize_q5_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    const float d = f16_to_f32(x[i].d);
    const float min = f16_to_f32(x[i].dmin);
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32) {
      uint8_t sc, m;
      get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      u1 = uint8_t(u1 << 2);
      u2 = uint8_t(u2 << 2);
    }
  }
}

// ---------------------------------------------------------------- Q6_K
// The weighted variant passes the importance weights straight to the
// symmetric fit (no sigma^2 term), as ggml does.
void quantize_q6_k(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ6_K*>(dst);
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, max_abs_scale = 0;
    fit_symmetric_batch(kQK_K / 16, 16, 32, x, L, scales, 1, importance ? importance + kQK_K * i : nullptr);
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float scale = scales[ib];
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      y[i].d = f32_to_f16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f32_to_f16(1 / iscale);
    for (int ib = 0; ib < kQK_K / 16; ++ib) y[i].scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = f16_to_f32(y[i].d) * y[i].scales[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
      }
    }
    pack_q6k(L, y[i]);
  }
}

void dequantize_q6_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int8_t q1 = int8_t(((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        const int8_t q2 = int8_t(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        const int8_t q3 = int8_t(((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        const int8_t q4 = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

// ---------------------------------------------------------------- Q8_K
// d is a plain float; max -> -127 (not -128) keeps every code in [-127, 127].
void quantize_q8_k(const float* x, void* dst, int64_t n, const float*) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (!amax) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));  // ggml leaves bsums as they were; zero is their value
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) y[i].qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = int16_t(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_q8_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) *y++ = x[i].d * x[i].qs[j];
}

}  // namespace tf::quant::detail
