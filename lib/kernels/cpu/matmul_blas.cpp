// The OpenBLAS path of matmul, kept for comparison and for shapes where it
// measures fastest. OpenBLAS has its own threads; it is told to use as many
// as our pool has, and runs while the pool's workers idle.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "kernels/cpu/convert.h"
#include "kernels/cpu/matmul_impl.h"
#include "tf/error.h"
#include "tf/thread_pool.h"

namespace tf::kernels::mm {

namespace {
void set_blas_threads(int n) {
  static std::mutex mutex;
  static int current = -1;
  std::lock_guard<std::mutex> lock(mutex);
  if (current != n) {
    openblas_set_num_threads(n);
    current = n;
  }
}
}  // namespace

void matmul_blas(const float* x, size_t ldx, size_t M, size_t K, const void* w, DType w_type, size_t w_stride,
                 const float* bias, float* y, size_t ldy, size_t N, ThreadPool& pool) {
  set_blas_threads(pool.size());
  float beta = 0.0f;
  if (bias) {
    for (size_t m = 0; m < M; ++m) std::memcpy(y + m * ldy, bias, N * sizeof(float));
    beta = 1.0f;
  }
  if (w_type == DType::F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, x, int(ldx),
                static_cast<const float*>(w), int(w_stride / sizeof(float)), beta, y, int(ldy));
    return;
  }
  if (w_type != DType::F16 && w_type != DType::BF16) fail("matmul (BLAS): unsupported weight type ", dtype_name(w_type));
  // Widen W a block of rows at a time (about 4 MiB of f32) and multiply it.
  const size_t rows = std::max<size_t>(16, (size_t(4) << 20) / (K * sizeof(float)));
  thread_local std::vector<float> panel_buf;
  panel_buf.resize(rows * K);
  float* panel = panel_buf.data();  // the workers below see the caller's buffer through this
  const char* wb = static_cast<const char*>(w);
  for (size_t n0 = 0; n0 < N; n0 += rows) {
    const size_t nr = std::min(rows, N - n0);
    pool.parallel_for(nr, 8, [&](size_t b, size_t e, int) {
      for (size_t r = b; r < e; ++r) {
        const uint16_t* src = reinterpret_cast<const uint16_t*>(wb + (n0 + r) * w_stride);
        if (w_type == DType::F16)
          convert_f16_to_f32(src, panel + r * K, K);
        else
          convert_bf16_to_f32(src, panel + r * K, K);
      }
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(nr), int(K), 1.0f, x, int(ldx), panel,
                int(K), beta, y + n0, int(ldy));
  }
}

}  // namespace tf::kernels::mm
