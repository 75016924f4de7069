// Quantizing and dequantizing rows of ggml block types. Values are bit-exact
// with ggml's reference code (ggml-quants.c): a row quantized here holds the
// same bytes llama.cpp's quantizer writes for the same floats and importance
// weights, and dequantizes to the same floats.
#pragma once
#include <cstddef>
#include <cstdint>

#include "tf/dtype.h"

namespace tf::quant {

// Whether quantize_rows supports t as a target (plain F32/F16/BF16 included).
bool can_quantize(DType t);
// Types whose quality collapses without an importance matrix (llama.cpp
// refuses IQ2_XXS / IQ2_XS / IQ1_S without one; IQ2_S / IQ1_M are warned on).
bool requires_imatrix(DType t);

// Quantizes nrows rows of n_per_row floats from src into dst, each row
// row_bytes(t, n_per_row) bytes, rows back to back. importance: n_per_row
// per-column weights (an imatrix entry) or nullptr. n_per_row must be a
// multiple of t's block size. Returns the bytes written.
size_t quantize_rows(DType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                     const float* importance);

// Dequantizes n elements (a multiple of t's block size) of type t.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

}  // namespace tf::quant
