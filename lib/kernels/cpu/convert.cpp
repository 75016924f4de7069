#include "kernels/cpu/convert.h"

#include "tf/cpu_features.h"
#include "tf/half.h"

namespace tf::kernels {

void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  if (cpu_level() >= 2) return avx512::convert_f16_to_f32(src, dst, n);
  if (cpu_level() >= 1) return avx2::convert_f16_to_f32(src, dst, n);
  for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  if (cpu_level() >= 2) return avx512::convert_f32_to_f16(src, dst, n);
  if (cpu_level() >= 1) return avx2::convert_f32_to_f16(src, dst, n);
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  if (cpu_level() >= 2) return avx512::convert_bf16_to_f32(src, dst, n);
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

// Kept scalar: the NaN rule (quiet, payload top bits) has no single
// instruction, and this runs once per tensor at conversion time.
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

}  // namespace tf::kernels
