// The GEMM every training op uses for products the inference kernel does not
// take (transposed operands, accumulation into a gradient): OpenBLAS sgemm,
// told to use as many threads as the default pool has (as the inference BLAS
// path does), so `-t N` means N threads for training too.
#pragma once
#include <cstdint>

namespace tf::train::detail {

// C[M,N] = alpha·op(A)·op(B) + beta·C, row-major, leading dimensions as stored.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc, float alpha = 1.0f);

}  // namespace tf::train::detail
