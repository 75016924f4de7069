// Quantizing and dequantizing rows of ggml block types. Values are bit-exact
// with ggml's reference code (ggml-quants.c): a row quantized here holds the
// same bytes llama.cpp's quantizer writes for the same floats and importance
// weights, and dequantizes to the same floats.
//
// Which algorithm runs is ggml_quantize_chunk's choice: without importance
// weights the *_ref quantizers (IQ4_NL / IQ4_XS: the 15-trial search, as
// llama-quantize writes them), with them the weighted searches; Q8_0, Q8_1,
// Q8_K, TQ1_0, TQ2_0 and the plain types ignore importance, as ggml does.
// Like ggml, finite input gives finite output while the block scales fit in
// f16; beyond that (|x| around 1e5 and up for the 4-bit types) scales
// overflow to inf, in the same bytes ggml writes.
//
// Thread safety: all functions may be called concurrently; rows are
// independent, so callers parallelise over row ranges. The i-quant codebook
// tables are built once, on the first call that needs them (the IQ1 one
// takes about a second).
// Implementation: lib/quant/ (quant.cpp dispatches; one file per family).
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
// multiple of t's block size. Returns the bytes written. Throws tf::Error for
// a type it cannot produce, a bad shape, or a missing importance vector where
// requires_imatrix(t).
size_t quantize_rows(DType t, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                     const float* importance);

// Dequantizes n elements (a multiple of t's block size) of type t; every
// quantizable type except Q8_1 (ggml has no dequantizer for it either).
// Throws tf::Error otherwise.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

}  // namespace tf::quant
