// Linear layers: y[M,N] = x[M,K] · W[N,K]ᵀ (+ bias[N]).
//
// x and y are f32, row-major. W is stored as HF / GGUF store it: N rows (one
// per output feature) of K contiguous elements, in its own dtype (f32, f16,
// bf16; the ggml block types plug into the same table later). W is read in
// place — typically straight from a memory-mapped file — and never converted
// up front.
//
// Two regimes, picked from M:
//  - decode (small M): a GEMV that streams W once, converting each vector on
//    the fly, with the N rows split across the pool's threads. Memory bound.
//  - prompt (large M): a packed, cache-blocked GEMM whose microkernel keeps an
//    MR x NR tile of y in registers; W panels are converted to f32 while they
//    are packed. Compute bound.
// f32 weights are always computed in f32 (golden tests need ~1e-4 on logits);
// f16 and bf16 weights are widened exactly, so every path accumulates f32
// products of the exact weight values (unless fast_bf16 is asked for).
#pragma once
#include <cstddef>

#include "tf/dtype.h"

namespace tf {
class ThreadPool;
}

namespace tf::kernels {

struct MatmulArgs {
  size_t M = 0, N = 0, K = 0;
  const float* x = nullptr;  // [M, K], rows ldx floats apart (0: K)
  size_t ldx = 0;
  const void* w = nullptr;  // [N, K] of w_type, rows w_stride bytes apart (0: packed rows)
  DType w_type = DType::F32;
  size_t w_stride = 0;
  const float* bias = nullptr;  // [N] or nullptr
  float* y = nullptr;           // [M, N], rows ldy floats apart (0: N); must not overlap x or w
  size_t ldy = 0;
  // bf16 weights in the prompt regime: when set, x is rounded to bf16 and
  // multiplied with AVX512-BF16 dot products — about twice the f32 GEMM's
  // rate, at a relative error of up to 2⁻⁸ per product (what llama.cpp and
  // HF's own bf16 inference do). Off by default: golden outputs of
  // bf16-stored models are f32 computations, checked to 1e-4 on logits.
  bool fast_bf16 = false;
  // W is in quant_interleave.h's row-interleaved layout (made by
  // interleave_weights); w_stride is then ignored.
  bool w_interleaved = false;
};

// Which implementation runs. Auto picks per shape from measurements (see
// matmul.cpp); the others exist for tests and benchmarks.
enum class MatmulPath { Auto, Gemv, Gemm, GemmBf16, Blas };

// y = x·Wᵀ + bias on `pool`. level: ISA level (0 scalar, 1 AVX2, 2 AVX-512);
// -1 means cpu_level(). A level above what the CPU has is an error.
void matmul(const MatmulArgs& args, ThreadPool& pool, MatmulPath path = MatmulPath::Auto, int level = -1);

// Contiguous operands, default pool.
void matmul(const float* x, const void* w, DType w_type, const float* bias, float* y, size_t M, size_t N, size_t K);

// Load-time repacking of W [N, K] into the row-interleaved layout of the
// decode kernels (quant_interleave.h), for block types that have such kernels
// on this CPU (AVX512-VNNI: Q4_0, Q8_0, Q4_K, Q6_K). Returns false, writing
// nothing, for any other type or CPU. interleaved_weight_bytes gives dst's size.
bool can_interleave(DType w_type);
size_t interleaved_weight_bytes(DType w_type, size_t N, size_t K);
void interleave_weights(DType w_type, const void* w, size_t w_stride, size_t N, size_t K, void* dst, ThreadPool& pool);

// Whether matmul() accepts weights of this type.
bool matmul_supported(DType w_type);

// The slow, obviously-correct version: one f32 dot product per output, k in
// order. Single-threaded; what every other path is tested against.
void matmul_ref(const MatmulArgs& args);

}  // namespace tf::kernels
