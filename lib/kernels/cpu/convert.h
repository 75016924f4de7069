// Bulk f16 / bf16 <-> f32 conversion over raw buffers, dispatched at run time.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tf::kernels {

void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n);

// ISA-specific variants (defined in convert_avx2.cpp / convert_avx512.cpp);
// each handles the whole range, tail included.
namespace avx2 {
void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n);
}  // namespace avx2
namespace avx512 {
void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n);
}  // namespace avx512

}  // namespace tf::kernels
