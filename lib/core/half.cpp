#include "tf/half.h"

#include "kernels/cpu/convert.h"

namespace tf {

// Scalar conversions, bit-exact with the F16C instructions (round to nearest
// even, subnormals kept, NaN payload's top bits kept).
float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    bits = sign | (uint32_t(112 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return uint16_t(sign | 0x7e00 | ((abs >> 13) & 0x3ff));  // NaN stays NaN (quiet)
  if (abs >= 0x477ff000) return uint16_t(sign | 0x7c00);                          // rounds to infinity
  if (abs < 0x38800000) {                                                         // f16 subnormal or zero
    if (abs < 0x33000000) return uint16_t(sign);  // below half the smallest subnormal
    uint32_t e = abs >> 23;
    uint32_t m = (abs & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // 14..24
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t v = abs - 0x38000000;  // rebias exponent 127 -> 15
  uint32_t q = v >> 13;
  uint32_t rem = v & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) ++q;
  return uint16_t(sign | q);
}

void f16_to_f32(const uint16_t* src, float* dst, size_t n) { kernels::convert_f16_to_f32(src, dst, n); }
void f32_to_f16(const float* src, uint16_t* dst, size_t n) { kernels::convert_f32_to_f16(src, dst, n); }
void bf16_to_f32(const uint16_t* src, float* dst, size_t n) { kernels::convert_bf16_to_f32(src, dst, n); }
void f32_to_bf16(const float* src, uint16_t* dst, size_t n) { kernels::convert_f32_to_bf16(src, dst, n); }

}  // namespace tf
