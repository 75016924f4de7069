// IQ4_NL (32-element blocks, one f16 scale) and IQ4_XS (256-element
// super-blocks, 6-bit sub-block scales): 4-bit indices into the non-uniform
// codebook kIQ4NLValues. Both run ggml's search with 15 trial scales, with or
// without importance weights (ggml_quantize_chunk never uses the cheaper
// single-try reference for them); without weights, x^2 weights the fit.
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/scale_fit.h"
#include "tf/half.h"

namespace tf::quant::detail {

namespace {

constexpr int kTrials = 7;  // trial scales (values[0] + t) / max for t in [-7, 7]

// Index of the codebook value nearest x (the upper one on a tie);
// values ascending.
int nearest_value_index(const int8_t* values, float x) {
  constexpr int n = 16;
  if (x <= values[0]) return 0;
  if (x >= values[n - 1]) return n - 1;
  int lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (x < values[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return x - values[hi - 1] < values[hi] - x ? hi - 1 : hi;
}

// Weighted least-squares scale of one 32-element block over the trial
// scales; codes into L. Returns 0 for a block of (near) zeros, whose codes
// are left for the caller.
float fit_block(const float* xb, const float* weight, uint8_t* L) {
  const int8_t* values = kIQ4NLValues;
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    float ax = std::fabs(xb[j]);
    if (ax > amax) {
      amax = ax;
      max = xb[j];
    }
  }
  if (amax < kGroupMaxEps) return 0;
  float d = -max / values[0];
  float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int j = 0; j < 32; ++j) {
    int l = nearest_value_index(values, id * xb[j]);
    L[j] = uint8_t(l);
    float q = values[l];
    float w = weight[j];
    sumqx += w * q * xb[j];
    sumq2 += w * q * q;
  }
  d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int t = -kTrials; t <= kTrials; ++t) {
    id = (t + values[0]) / max;
    sumqx = sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      int l = nearest_value_index(values, id * xb[j]);
      float q = values[l];
      float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// sigma^2 of the weighted fit: twice the mean square of the super-block.
float weight_sigma2(const float* x, int n) {
  float sigma2 = 0;
  for (int j = 0; j < n; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / n;
  return sigma2;
}

void block_weights(const float* xb, const float* qw, float sigma2, float* weight) {
  if (qw) {
    for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
  } else {
    for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
  }
}

// Element j in the low nibble of byte j, element j+16 in the high nibble.
void pack_nibbles(const uint8_t* L, int n, uint8_t* q4) {
  for (int i = 0; i < n / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

}  // namespace

void quantize_iq4_nl(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockIQ4_NL*>(dst);
  uint8_t L[kQK4_NL];
  float weight[kQK4_NL];
  for (int64_t ib = 0; ib < n / kQK4_NL; ++ib, x += kQK4_NL) {
    block_weights(x, importance ? importance + kQK4_NL * ib : nullptr, weight_sigma2(x, kQK4_NL), weight);
    const float d = fit_block(x, weight, L);
    y[ib].d = f32_to_f16(d);
    // final codes from the unrounded best scale
    const float id = d ? 1 / d : 0;
    for (int j = 0; j < kQK4_NL; ++j) L[j] = uint8_t(nearest_value_index(kIQ4NLValues, id * x[j]));
    pack_nibbles(L, kQK4_NL, y[ib].qs);
  }
}

void dequantize_iq4_nl(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_NL*>(src);
  for (int64_t i = 0; i < n / kQK4_NL; ++i, y += kQK4_NL) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * kIQ4NLValues[x[i].qs[j] & 0xf];
      y[j + 16] = d * kIQ4NLValues[x[i].qs[j] >> 4];
    }
  }
}

void quantize_iq4_xs(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockIQ4_XS*>(dst);
  uint8_t L[kQK_K];
  float weight[32];
  float scales[kQK_K / 32];
  for (int64_t ibl = 0; ibl < n / kQK_K; ++ibl, x += kQK_K) {
    const float* qw = importance ? importance + kQK_K * ibl : nullptr;
    const float sigma2 = weight_sigma2(x, kQK_K);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      block_weights(x + 32 * ib, qw ? qw + 32 * ib : nullptr, sigma2, weight);
      scales[ib] = fit_block(x + 32 * ib, weight, L + 32 * ib);
      const float abs_d = std::fabs(scales[ib]);
      if (abs_d > amax_scale) {
        amax_scale = abs_d;
        max_scale = scales[ib];
      }
    }
    // 6-bit sub-block scales l - 32 against d = -max/32; codes re-derived
    // from each rounded sub-block scale.
    BlockIQ4_XS& b = y[ibl];
    b.scales_h = 0;
    const float d = -max_scale / 32;
    b.d = f32_to_f16(d);
    const float id = d ? 1 / d : 0.f;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = l < -32 ? -32 : (l > 31 ? 31 : l);
      const float dl = d * l;
      const float idl = dl ? 1 / dl : 0.f;
      for (int j = 0; j < 32; ++j) L[32 * ib + j] = uint8_t(nearest_value_index(kIQ4NLValues, idl * x[32 * ib + j]));
      l += 32;
      const uint8_t l_l = uint8_t(l & 0xf), l_h = uint8_t(l >> 4);
      if (ib % 2 == 0) {
        b.scales_l[ib / 2] = l_l;
      } else {
        b.scales_l[ib / 2] |= uint8_t(l_l << 4);
      }
      b.scales_h = uint16_t(b.scales_h | (l_h << 2 * (ib % 8)));
    }
    pack_nibbles(L, kQK_K, b.qs);
  }
}

void dequantize_iq4_xs(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_XS*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* qs = x[i].qs;
    const float d = f16_to_f32(x[i].d);
    for (int ib = 0; ib < kQK_K / 32; ++ib, y += 32, qs += 16) {
      const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * (ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kIQ4NLValues[qs[j] & 0xf];
        y[j + 16] = dl * kIQ4NLValues[qs[j] >> 4];
      }
    }
  }
}

}  // namespace tf::quant::detail
