// The GEMM every training op uses, forward and backward: the inference
// engine's kernel (kernels::matmul, y = x·Wᵀ, AVX-512 / AVX2 by CPU) on the
// default pool, with operands transposed into scratch where a product needs
// another layout, and alpha/beta applied around it. One engine for training
// and inference, and no second thread pool: OpenBLAS's spinning workers
// competed with the pool's for the cores (sched_yield was ~9 % of a step).
#pragma once
#include <cstdint>

namespace tf::train::detail {

// C[M,N] = alpha·op(A)·op(B) + beta·C, row-major, leading dimensions as
// stored. beta = 0 ignores C's contents (NaN included).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc, float alpha = 1.0f);

// dst[c·rows + r] = src[r·ld + c] for a rows×cols matrix (tiled, on the pool).
void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst);

}  // namespace tf::train::detail
