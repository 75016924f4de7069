#include "train/gemm.h"

#include <algorithm>

#include "kernels/cpu/matmul.h"
#include "tf/thread_pool.h"
#include "train/scratch.h"

namespace tf::train::detail {

void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld, float* dst) {
  constexpr int64_t kTile = 32;  // both sides' cache lines stay in use
  const int64_t col_tiles = (cols + kTile - 1) / kTile;
  auto run = [&](size_t lo, size_t hi, int) {
    for (int64_t c0 = int64_t(lo) * kTile; c0 < std::min(cols, int64_t(hi) * kTile); c0 += kTile)
      for (int64_t r0 = 0; r0 < rows; r0 += kTile)
        for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c)
          for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r) dst[c * rows + r] = src[r * ld + c];
  };
  if (rows * cols < (int64_t(1) << 16))
    run(0, size_t(col_tiles), 0);
  else
    default_pool().parallel_for(size_t(col_tiles), 4, run);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc, float alpha) {
  if (M == 0 || N == 0) return;
  // The kernel computes x[M,K]·W[N,K]ᵀ: op(A) must be stored as rows of K
  // (A untransposed) and op(B) as rows of K too (B transposed).
  std::shared_ptr<float[]> a_rows, b_rows, out;
  const float* x = A;
  int64_t ldx = lda;
  if (trans_a && K > 0) {
    a_rows = scratch(size_t(M * K));
    transpose(A, K, M, lda, a_rows.get());
    x = a_rows.get(), ldx = K;
  }
  const float* w = B;
  int64_t ldw = ldb;
  if (!trans_b && K > 0) {
    b_rows = scratch(size_t(N * K));
    transpose(B, K, N, ldb, b_rows.get());
    w = b_rows.get(), ldw = K;
  }
  const bool direct = beta == 0.0f && alpha == 1.0f;
  float* y = C;
  int64_t ldy = ldc;
  if (!direct) {
    out = scratch(size_t(M * N));
    y = out.get(), ldy = N;
  }
  kernels::MatmulArgs args;
  args.M = size_t(M), args.N = size_t(N), args.K = size_t(K);
  args.x = x, args.ldx = size_t(std::max<int64_t>(ldx, K));
  args.w = w, args.w_type = DType::F32, args.w_stride = size_t(std::max<int64_t>(ldw, K)) * sizeof(float);
  args.y = y, args.ldy = size_t(N == ldy ? 0 : ldy);
  if (K == 0) args.ldx = 0, args.w_stride = 0;
  kernels::matmul(args, default_pool());
  if (direct) return;
  auto combine = [&](size_t lo, size_t hi, int) {
    for (size_t m = lo; m < hi; ++m) {
      float* c = C + int64_t(m) * ldc;
      const float* p = y + int64_t(m) * N;
      if (beta == 0.0f)
        for (int64_t n = 0; n < N; ++n) c[n] = alpha * p[n];
      else
        for (int64_t n = 0; n < N; ++n) c[n] = alpha * p[n] + beta * c[n];
    }
  };
  if (M * N < (int64_t(1) << 15))
    combine(0, size_t(M), 0);
  else
    default_pool().parallel_for(size_t(M), 8, combine);
}

}  // namespace tf::train::detail
