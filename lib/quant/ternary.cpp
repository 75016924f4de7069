// Ternary types (BitNet-style weights in {-1, 0, 1} times one f16 scale per
// 256 elements): TQ1_0 packs 5 trits per byte as a base-3 fraction of 256
// (1.6875 bits per weight), TQ2_0 stores 2 bits per trit. Importance weights
// cannot change a ternary rounding; ggml ignores them too.
#include <cmath>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "tf/half.h"

namespace tf::quant::detail {

namespace {

float absmax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
  return amax;
}

// -1, 0, 1 -> 0, 1, 2
int trit(float x, float id) { return int(std::lround(x * id)) + 1; }

// A byte holding trits t0..t{k-1} (t0 most significant) as the fraction
// value / 3^5 of 256, rounded up so that multiplying by 3 and taking the top
// byte's overflow peels them off one by one.
uint8_t fraction_byte(uint8_t base3) { return uint8_t((uint16_t(base3) * 256 + (243 - 1)) / 243); }

// Dequantized trit n (0 = most significant) of a fraction byte.
float trit_value(uint8_t byte, int n, float d) {
  static constexpr uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
  const uint8_t q = uint8_t(byte * kPow3[n]);
  const int16_t xi = int16_t((uint16_t(q) * 3) >> 8);
  return float(xi - 1) * d;
}

constexpr int kQs1 = int(sizeof(BlockTQ1_0::qs));  // 48: 32 bytes of 5 groups of 32, 16 of 5 groups of 16
constexpr int kQs1Wide = kQs1 - kQs1 % 32;
constexpr int kQh1 = int(sizeof(BlockTQ1_0::qh));  // 4 bytes of 4 trits (the last 16 elements)

}  // namespace

void quantize_tq1_0(const float* x, void* dst, int64_t n, const float*) {
  auto* y = static_cast<BlockTQ1_0*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = absmax(x, kQK_K);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    // byte m of a span of `width` bytes holds elements m, m + width, ... m + 4*width
    auto pack_span = [&](int first_byte, int width) {
      for (int m = 0; m < width; ++m) {
        uint8_t q = 0;
        for (int k = 0; k < 5; ++k) q = uint8_t(q * 3 + trit(x[m + k * width], id));
        y[i].qs[first_byte + m] = fraction_byte(q);
      }
      x += 5 * width;
    };
    for (int j = 0; j < kQs1Wide; j += 32) pack_span(j, 32);
    for (int j = kQs1Wide; j < kQs1; j += 16) pack_span(j, 16);
    for (int j = 0; j < kQh1; ++j) {
      uint8_t q = 0;
      for (int m = 0; m < 4; ++m) q = uint8_t(q * 3 + trit(x[j + m * kQh1], id));
      q = uint8_t(q * 3);  // 4 trits in the 5 most significant positions
      y[i].qh[j] = fraction_byte(q);
    }
    x += 4 * kQh1;
  }
}

void dequantize_tq1_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockTQ1_0*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQs1Wide; j += 32)
      for (int k = 0; k < 5; ++k)
        for (int m = 0; m < 32; ++m) *y++ = trit_value(x[i].qs[j + m], k, d);
    for (int j = kQs1Wide; j < kQs1; j += 16)
      for (int k = 0; k < 5; ++k)
        for (int m = 0; m < 16; ++m) *y++ = trit_value(x[i].qs[j + m], k, d);
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < kQh1; ++j) *y++ = trit_value(x[i].qh[j], k, d);
  }
}

void quantize_tq2_0(const float* x, void* dst, int64_t n, const float*) {
  auto* y = static_cast<BlockTQ2_0*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = absmax(x, kQK_K);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    // byte m of each 32-byte group: elements m, m+32, m+64, m+96, lowest bits first
    for (int j = 0; j < int(sizeof y[i].qs); j += 32, x += 4 * 32) {
      for (int m = 0; m < 32; ++m) {
        uint8_t q = 0;
        for (int k = 0; k < 4; ++k) q = uint8_t(q + ((trit(x[m + k * 32], id) & 3) << (2 * k)));
        y[i].qs[j + m] = q;
      }
    }
  }
}

void dequantize_tq2_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockTQ2_0*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < int(sizeof x[i].qs); j += 32)
      for (int k = 0; k < 4; ++k)
        for (int m = 0; m < 32; ++m) *y++ = float(int8_t((x[i].qs[j + m] >> (2 * k)) & 3) - 1) * d;
  }
}

}  // namespace tf::quant::detail
