// The legacy 32-element block types: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1.
// Without importance weights each block is scaled from its extremes (ggml's
// *_ref quantizers, truncating casts included); with them, Q4_0 / Q5_0 search
// a symmetric scale and Q4_1 / Q5_1 a scale and min, weighting each element
// by importance * sqrt(sigma^2 + x^2) with sigma^2 the row's mean square.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/scale_fit.h"
#include "tf/cpu_features.h"
#include "tf/half.h"

namespace tf::quant::detail {

namespace {

// Element weights of the importance-weighted legacy quantizers for one block.
void block_weights(const float* xb, const float* importance, float sigma2, float* weight) {
  for (int j = 0; j < 32; ++j) weight[j] = importance[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

float row_mean_square(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / n;
}

// 5-bit codes: low nibbles as in 4-bit blocks, the fifth bits of elements j
// and j+16 as bits j and j+16 of qh.
void pack_5bit(const uint8_t* codes, uint8_t* qs, uint8_t* qh_out) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t lo = codes[j], hi = codes[j + 16];
    qs[j] = uint8_t((lo & 0x0F) | ((hi & 0x0F) << 4));
    qh |= ((lo & 0x10u) >> 4) << j;
    qh |= ((hi & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_out, &qh, sizeof qh);
}

// Value of largest magnitude, first one on ties (its sign sets the scale's).
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float* min_out, float* max_out) {
  float min = FLT_MAX, max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  *min_out = min;
  *max_out = max;
}

}  // namespace

// ---------------------------------------------------------------- Q4_0
void quantize_q4_0(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ4_0*>(dst);
  const int64_t nb = n / kQK4_0;
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += kQK4_0) {
      // max -> -8 exactly, so the other sign reaches +8 and is clipped to 7.
      const float d = signed_absmax(x, kQK4_0) / -8;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = f32_to_f16(d);
      for (int j = 0; j < 16; ++j) {
        // truncation of x + 8.5 is rounding half up for the non-negative sums
        const uint8_t lo = uint8_t(std::min(15, int(int8_t(x[j] * id + 8.5f))));
        const uint8_t hi = uint8_t(std::min(15, int(int8_t(x[j + 16] * id + 8.5f))));
        y[i].qs[j] = uint8_t(lo | (hi << 4));
      }
    }
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kQK4_0];
  int8_t L[kQK4_0];
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + kQK4_0 * i;
    block_weights(xb, importance + kQK4_0 * i, sigma2, weight);
    y[i].d = f32_to_f16(fit_symmetric(kQK4_0, 8, xb, L, 1, weight));
    for (int j = 0; j < 16; ++j) y[i].qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

void dequantize_q4_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i, y += kQK4_0) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

// ---------------------------------------------------------------- Q4_1
void quantize_q4_1(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ4_1*>(dst);
  const int64_t nb = n / kQK4_1;
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += kQK4_1) {
      float min, max;
      min_max(x, kQK4_1, &min, &max);
      const float d = (max - min) / 15;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = f32_to_f16(d);
      y[i].m = f32_to_f16(min);
      for (int j = 0; j < 16; ++j) {
        const uint8_t lo = uint8_t(std::min(15, int(int8_t((x[j] - min) * id + 0.5f))));
        const uint8_t hi = uint8_t(std::min(15, int(int8_t((x[j + 16] - min) * id + 0.5f))));
        y[i].qs[j] = uint8_t(lo | (hi << 4));
      }
    }
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kQK4_1];
  uint8_t L[kQK4_1], Laux[kQK4_1];
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + kQK4_1 * i;
    block_weights(xb, importance + kQK4_1 * i, sigma2, weight);
    float neg_min;
    const float d = fit_scale_min_weighted(kQK4_1, 15, xb, weight, L, &neg_min, Laux, -0.9f, 0.05f, 36, false);
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(-neg_min);
    for (int j = 0; j < 16; ++j) y[i].qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

void dequantize_q4_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK4_1; ++i, y += kQK4_1) {
    const float d = f16_to_f32(x[i].d);
    const float m = f16_to_f32(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = (x[i].qs[j] & 0x0F) * d + m;
      y[j + 16] = (x[i].qs[j] >> 4) * d + m;
    }
  }
}

// ---------------------------------------------------------------- Q5_0
void quantize_q5_0(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ5_0*>(dst);
  const int64_t nb = n / kQK5_0;
  uint8_t codes[kQK5_0];
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += kQK5_0) {
      const float d = signed_absmax(x, kQK5_0) / -16;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = f32_to_f16(d);
      for (int j = 0; j < kQK5_0; ++j) codes[j] = uint8_t(std::min(31, int(int8_t(x[j] * id + 16.5f))));
      pack_5bit(codes, y[i].qs, y[i].qh);
    }
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kQK5_0];
  int8_t L[kQK5_0];
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + kQK5_0 * i;
    block_weights(xb, importance + kQK5_0 * i, sigma2, weight);
    y[i].d = f32_to_f16(fit_symmetric(kQK5_0, 16, xb, L, 1, weight));
    for (int j = 0; j < kQK5_0; ++j) codes[j] = uint8_t(L[j]);
    pack_5bit(codes, y[i].qs, y[i].qh);
  }
}

void dequantize_q5_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK5_0; ++i, y += kQK5_0) {
    const float d = f16_to_f32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < 16; ++j) {
      const int lo = (x[i].qs[j] & 0x0F) | int(((qh >> j) << 4) & 0x10);
      const int hi = (x[i].qs[j] >> 4) | int((qh >> (j + 12)) & 0x10);
      y[j] = (lo - 16) * d;
      y[j + 16] = (hi - 16) * d;
    }
  }
}

// ---------------------------------------------------------------- Q5_1
void quantize_q5_1(const float* x, void* dst, int64_t n, const float* importance) {
  auto* y = static_cast<BlockQ5_1*>(dst);
  const int64_t nb = n / kQK5_1;
  uint8_t codes[kQK5_1];
  if (!importance) {
    for (int64_t i = 0; i < nb; ++i, x += kQK5_1) {
      float min, max;
      min_max(x, kQK5_1, &min, &max);
      const float d = (max - min) / 31;
      const float id = d ? 1.0f / d : 0.0f;
      y[i].d = f32_to_f16(d);
      y[i].m = f32_to_f16(min);
      for (int j = 0; j < kQK5_1; ++j) codes[j] = uint8_t((x[j] - min) * id + 0.5f);
      pack_5bit(codes, y[i].qs, y[i].qh);
    }
    return;
  }
  const float sigma2 = row_mean_square(x, n);
  float weight[kQK5_1];
  uint8_t L[kQK5_1], Laux[kQK5_1];
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + kQK5_1 * i;
    block_weights(xb, importance + kQK5_1 * i, sigma2, weight);
    float neg_min;
    const float d = fit_scale_min_weighted(kQK5_1, 31, xb, weight, L, &neg_min, Laux, -0.9f, 0.05f, 36, false);
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(-neg_min);
    pack_5bit(L, y[i].qs, y[i].qh);
  }
}

void dequantize_q5_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK5_1; ++i, y += kQK5_1) {
    const float d = f16_to_f32(x[i].d);
    const float m = f16_to_f32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < 16; ++j) {
      const int lo = (x[i].qs[j] & 0x0F) | int(((qh >> j) << 4) & 0x10);
      const int hi = (x[i].qs[j] >> 4) | int((qh >> (j + 12)) & 0x10);
      y[j] = lo * d + m;
      y[j + 16] = hi * d + m;
    }
  }
}

// ---------------------------------------------------------------- Q8_0 / Q8_1
// Importance weights change nothing for 8 bits (ggml ignores them too).
namespace {
void quantize_q8_0_block(const float* x, BlockQ8_0& y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK8_0; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);  // NaN: as in ggml
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  y.d = f32_to_f16(d);
  for (int j = 0; j < kQK8_0; ++j) y.qs[j] = int8_t(std::round(x[j] * id));
}
}  // namespace

void quantize_q8_0(const float* x, void* dst, int64_t n, const float*) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  const int64_t blocks = n / kQK8_0;
  const bool vector = cpu_level() >= 1;  // the same bytes, without 32 roundf calls a block
  for (int64_t i = 0; i < blocks; ++i) {
    if (vector) {
      i += avx2::quantize_q8_0(x + i * kQK8_0, y + i, blocks - i);
      if (i == blocks) break;
    }
    quantize_q8_0_block(x + i * kQK8_0, y[i]);  // a block holding a NaN, or no AVX2
  }
}

void dequantize_q8_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i, y += kQK8_0) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = x[i].qs[j] * d;
  }
}

void quantize_q8_1(const float* x, void* dst, int64_t n, const float*) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK8_1; ++i, x += kQK8_1) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_1; ++j)
      amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);  // NaN propagates, as in ggml
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) {
      y[i].qs[j] = int8_t(std::round(x[j] * id));
      sum += y[i].qs[j];
    }
    y[i].s = f32_to_f16(sum * d);
  }
}

}  // namespace tf::quant::detail
