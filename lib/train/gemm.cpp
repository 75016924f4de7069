#include "train/gemm.h"

#include <cblas.h>

#include <atomic>

#include "tf/thread_pool.h"

namespace tf::train::detail {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc, float alpha) {
  if (M == 0 || N == 0) return;
  // openblas_set_num_threads is not free (it may start threads): only call it
  // when the pool size changed.
  static std::atomic<int> blas_threads{-1};
  const int want = default_pool().size();
  if (blas_threads.exchange(want) != want) openblas_set_num_threads(want);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(M), int(N),
              int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

}  // namespace tf::train::detail
