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

// dst[k][j] = W[j][k0 + k] as f32, for k < kc and j < NR; rows j >= n_rows
// are zero. w points at the panel's first row. dst is 64-byte aligned.
using PackWFn = void (*)(const void* w, size_t w_stride, size_t n_rows, size_t k0, size_t kc, float* dst);

struct TypeKernels {
  size_t (*x_row_bytes)(size_t K) = nullptr;
  void (*prepare_x)(const float* x, size_t ldx, size_t M, size_t K, void* dst) = nullptr;
  DotRowsFn dot_rows = nullptr;
  PackWFn pack_w = nullptr;
};

// C[MR', NR] (+)= A[MR', kc] · B[kc, NR] with A packed as a[k*MR + i] and B as
// b[k*NR + j]. Rows i < m (the table index), columns j < n_valid are stored;
// if accumulate, C is added to, else C = acc + bias (bias may be nullptr).
using UKernelFn = void (*)(size_t kc, const float* a, const float* b, float* c, size_t ldc, size_t n_valid,
                           const float* bias, bool accumulate);

constexpr size_t kMaxMR = 16;

struct GemmKernel {
  size_t mr = 0, nr = 0;
  size_t kc = 256;                     // K block: a B micro-panel of kc x nr stays in L1
  size_t nc = 256;                     // N block per task: kc x nc of packed W in L2
  UKernelFn ukernel[kMaxMR + 1] = {};  // indexed by the number of rows (1..mr)
};

struct IsaTable {
  GemmKernel gemm;  // mr == 0: no GEMM at this level
  TypeKernels f32, f16, bf16;
};

// nullptr when the type has no kernels at that level.
const TypeKernels* type_kernels(DType t, int level);
const GemmKernel* gemm_kernel(int level);

// Packs rows [0, rows) of x (rows <= mr) as a[k*mr + i], zero-filling i >= rows.
void pack_a(const float* x, size_t ldx, size_t rows, size_t K, size_t mr, float* dst);

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
