// Internals of matmul: the per-ISA, per-weight-type kernel tables that the
// driver in matmul.cpp dispatches through. Tests and benchmarks may call the
// tables directly; models use matmul.h.
//
// A weight type joins by filling one TypeKernels entry per ISA level:
//  - dot_rows: the skinny/decode kernel (any M; best for small M).
//  - pack_w:   widens a block of W into the f32 panels the GEMM microkernel
//              reads, which gives the type the compute-bound prompt path for
//              free (a block type dequantizes here; k0 and kc are then
//              multiples of its block size, see GemmKernel::kc_align).
//  - prepare_x (optional): converts the activations once per call into what
//              dot_rows reads — ggml's vec_dot_type, e.g. Q8_0 blocks for a
//              Q4_0 W. nullptr: dot_rows reads the f32 rows of x.
// The ggml block types are registered in quant_matmul*.cpp (quant_matmul_impl.h).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tf/dtype.h"

namespace tf {
class ThreadPool;
}

namespace tf::kernels::mm {

// y[m*ldy + n] = bias[n] + Σ_k x[m][k] · W[n][k]  for m < M, n0 <= n < n1.
// x: rows x_stride bytes apart (f32 rows, or prepare_x's rows); w: the whole
// matrix, rows w_stride bytes apart; bias may be nullptr.
using DotRowsFn = void (*)(const void* x, size_t x_stride, size_t M, size_t K, const void* w, size_t w_stride,
                           const float* bias, size_t n0, size_t n1, float* y, size_t ldy);

// Packs W[j][k0 .. k0+kc) for j < NR into the panel layout of a GEMM engine
// (f32: dst[k][j] as f32; bf16 dot: dst[k/2][j] as bf16 pairs); rows
// j >= n_rows are zero. w points at the panel's first row. dst is 64-byte
// aligned. Never reads W[j][k] for k >= k0 + kc.
using PackWFn = void (*)(const void* w, size_t w_stride, size_t n_rows, size_t k0, size_t kc, void* dst);

struct TypeKernels {
  size_t (*x_row_bytes)(size_t K) = nullptr;
  // Converts rows [0, M) of x; dst row m starts at m * x_row_bytes(K).
  void (*prepare_x)(const float* x, size_t ldx, size_t M, size_t K, void* dst) = nullptr;
  DotRowsFn dot_rows = nullptr;
  PackWFn pack_w = nullptr;        // for the f32 GEMM engine (nullptr: no GEMM path)
  PackWFn pack_w_bf16 = nullptr;   // for the bf16 dot-product engine (bf16 W only)
  // Largest M that Auto sends to dot_rows rather than the GEMM; 0: the
  // driver's default for f32/f16/bf16.
  size_t gemv_max_m = 0;
  // Optional: dot_rows for many rows of x (the block types' int8 GEMM on
  // prepare_x's rows); it handles W rows in groups of gemm_rows_unit.
  DotRowsFn gemm_rows = nullptr;
  size_t gemm_rows_unit = 0;
  // Optional (AVX512-VNNI): matmul with W in quant_interleave.h's layout —
  // groups [g0, g1) of 16 rows, group_bytes apart — on activations from
  // il_prepare_x (rows il_x_row_bytes(K) apart).
  size_t (*il_x_row_bytes)(size_t K) = nullptr;
  void (*il_prepare_x)(const float* x, size_t ldx, size_t M, size_t K, void* dst) = nullptr;
  void (*il_rows)(const void* x, size_t x_stride, size_t M, size_t K, const void* w, size_t group_bytes, size_t g0,
                  size_t g1, const float* bias, float* y, size_t ldy) = nullptr;
};

// Slots for the block types, indexed by DType id (> the largest id).
constexpr size_t kTypeSlots = 40;

// A GEMM engine: x rows are packed into panels of mr rows (a[kp][mr]), W into
// panels of nr columns (b[kp][nr]); a packed element holds k_pack
// consecutive k values (1 for f32, 2 for the bf16 pairs that vdpbf16ps
// multiplies) in elem_bytes bytes.
//
// pack_a: x rows [0, rows) (rows <= mr) of length K into a[kp][mr], zero
// past `rows` and past K.
using PackAFn = void (*)(const float* x, size_t ldx, size_t rows, size_t K, size_t mr, void* dst);
// C[m, NR] (+)= A[m, kc] · B[kc, NR] for m = the table index: columns
// j < n_valid are stored; if accumulate, C is added to, else C = acc + bias
// (bias may be nullptr).
using UKernelFn = void (*)(size_t kc, const void* a, const void* b, float* c, size_t ldc, size_t n_valid,
                           const float* bias, bool accumulate);

constexpr size_t kMaxMR = 16;

struct GemmKernel {
  size_t mr = 0, nr = 0;
  size_t kc = 256;  // K block (a multiple of k_pack and of any block type's block size)
  size_t nc = 256;  // N block per task: kc x nc of packed W in L2
  size_t k_pack = 1, elem_bytes = 4;
  PackAFn pack_a = nullptr;
  UKernelFn ukernel[kMaxMR + 1] = {};  // indexed by the number of rows (1..mr)
};

struct IsaTable {
  GemmKernel gemm;       // f32 engine; mr == 0: no GEMM at this level
  GemmKernel gemm_bf16;  // bf16 dot-product engine (AVX512-BF16); mr == 0: none
  TypeKernels f32, f16, bf16;
  TypeKernels quant[kTypeSlots];  // ggml block types by DType id; dot_rows nullptr: none
};

// nullptr when the type has no kernels at that level.
const TypeKernels* type_kernels(DType t, int level);
const GemmKernel* gemm_kernel(int level);
// nullptr unless the CPU has AVX512-BF16 and level >= 2.
const GemmKernel* gemm_bf16_kernel(int level);

// The f32 engines' pack_a: a[k*mr + i] = x[i][k].
void pack_a_f32(const float* x, size_t ldx, size_t rows, size_t K, size_t mr, void* dst);

// OpenBLAS sgemm; f16 / bf16 W are widened a block of rows at a time.
void matmul_blas(const float* x, size_t ldx, size_t M, size_t K, const void* w, DType w_type, size_t w_stride,
                 const float* bias, float* y, size_t ldy, size_t N, ThreadPool& pool);

namespace scalar {
const IsaTable& table();
}
namespace avx2 {
const IsaTable& table();
}
namespace avx512 {
const IsaTable& table();
}

}  // namespace tf::kernels::mm
