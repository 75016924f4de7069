// Dispatch and threading of the row / element-wise kernels, and their scalar
// reference versions (level 0, and the twins of ops_simd.h).
#include "kernels/cpu/ops.h"

#include <cmath>
#include <limits>

#include "kernels/cpu/ops_impl.h"
#include "tf/cpu_features.h"
#include "tf/thread_pool.h"

namespace tf::kernels {
namespace ops {
namespace scalar {
namespace {

void rms_norm(const float* x, const float* w, float* y, size_t rows, size_t dim, float eps, bool one_plus_w) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double ss = 0;  // the reference accumulates in double, so it is the more accurate twin
    for (size_t i = 0; i < dim; ++i) ss += double(xr[i]) * xr[i];
    const float inv = 1.0f / std::sqrt(float(ss) / float(dim) + eps);
    for (size_t i = 0; i < dim; ++i) {
      const float t = xr[i] * inv;
      yr[i] = !w ? t : one_plus_w ? t * (1.0f + w[i]) : w[i] * t;
    }
  }
}

void layer_norm(const float* x, const float* w, const float* b, float* y, size_t rows, size_t dim, float eps) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double sum = 0;
    for (size_t i = 0; i < dim; ++i) sum += xr[i];
    const float mean = float(sum / double(dim));
    double var = 0;
    for (size_t i = 0; i < dim; ++i) var += double(xr[i] - mean) * (xr[i] - mean);
    const float rstd = 1.0f / std::sqrt(float(var / double(dim)) + eps);
    for (size_t i = 0; i < dim; ++i) {
      float t = (xr[i] - mean) * rstd;
      if (w) t *= w[i];
      if (b) t += b[i];
      yr[i] = t;
    }
  }
}

void add(const float* a, const float* b, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void mul(const float* a, const float* b, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
void scale(const float* x, float s, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] * s;
}

float act1(Activation act, float x) {
  switch (act) {
    case Activation::Silu: return x / (1.0f + std::exp(-x));
    case Activation::Gelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case Activation::GeluTanh:
      return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case Activation::Relu: return x > 0.0f ? x : 0.0f;
  }
  return x;
}

void activation(Activation act, const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = act1(act, x[i]);
}

void glu(Activation act, const float* gate, const float* up, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = act1(act, gate[i]) * up[i];
}

void soft_cap(const float* x, float* y, size_t n, float cap) {
  for (size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i] / cap) * cap;
}

void softmax(const float* x, float* y, size_t rows, size_t cols, float scale, float cap) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < cols; ++i) {
      float z = xr[i] * scale;
      if (cap > 0.0f) z = std::tanh(z / cap) * cap;
      yr[i] = z;
      if (z > mx) mx = z;
    }
    if (mx == -std::numeric_limits<float>::infinity()) {
      for (size_t i = 0; i < cols; ++i) yr[i] = 0.0f;
      continue;
    }
    double sum = 0;
    for (size_t i = 0; i < cols; ++i) sum += yr[i] = std::exp(yr[i] - mx);
    const float inv = float(1.0 / sum);
    for (size_t i = 0; i < cols; ++i) yr[i] *= inv;
  }
}

size_t argmax(const float* x, size_t n) {
  size_t best = 0;
  float mx = -std::numeric_limits<float>::infinity();
  bool found = false;
  for (size_t i = 0; i < n; ++i)
    if (x[i] > mx || (!found && x[i] == mx)) {
      mx = x[i];
      best = i;
      found = true;
    }
  return best;
}

}  // namespace

const OpsTable& table() {
  static const OpsTable t{&rms_norm, &layer_norm, &add, &mul, &scale, &activation, &glu, &soft_cap, &softmax, &argmax};
  return t;
}

}  // namespace scalar

const OpsTable& ops_table(int level) {
  if (level >= 2) return avx512::table();
  if (level == 1) return avx2::table();
  return scalar::table();
}

}  // namespace ops

namespace {

const ops::OpsTable& T() {
  static const ops::OpsTable& t = ops::ops_table(cpu_level());
  return t;
}

// Below this many elements per thread a parallel_for costs more than it saves.
constexpr size_t kMinPerThread = 16384;

// f(begin, end) over [0, n), split across pool when each piece is big enough.
template <class F>
void split(ThreadPool* pool, size_t n, size_t grain, F f) {
  if (!pool || pool->size() == 1 || n < 2 * grain) return f(size_t(0), n);
  pool->parallel_for(n, grain, [&](size_t b, size_t e, int) { f(b, e); });
}

size_t row_grain(size_t dim) { return dim == 0 ? 1 : (kMinPerThread + dim - 1) / dim; }

}  // namespace

void rms_norm(const float* x, const float* w, float* y, size_t rows, size_t dim, float eps, bool one_plus_w,
              ThreadPool* pool) {
  split(pool, rows, row_grain(dim),
        [&](size_t b, size_t e) { T().rms_norm(x + b * dim, w, y + b * dim, e - b, dim, eps, one_plus_w); });
}

void layer_norm(const float* x, const float* w, const float* b, float* y, size_t rows, size_t dim, float eps,
                ThreadPool* pool) {
  split(pool, rows, row_grain(dim),
        [&](size_t r0, size_t r1) { T().layer_norm(x + r0 * dim, w, b, y + r0 * dim, r1 - r0, dim, eps); });
}

void add(const float* a, const float* b, float* y, size_t n, ThreadPool* pool) {
  split(pool, n, kMinPerThread, [&](size_t i, size_t e) { T().add(a + i, b + i, y + i, e - i); });
}

void mul(const float* a, const float* b, float* y, size_t n, ThreadPool* pool) {
  split(pool, n, kMinPerThread, [&](size_t i, size_t e) { T().mul(a + i, b + i, y + i, e - i); });
}

void scale(const float* x, float s, float* y, size_t n, ThreadPool* pool) {
  split(pool, n, kMinPerThread, [&](size_t i, size_t e) { T().scale(x + i, s, y + i, e - i); });
}

void activation(Activation act, const float* x, float* y, size_t n, ThreadPool* pool) {
  split(pool, n, kMinPerThread, [&](size_t i, size_t e) { T().activation(act, x + i, y + i, e - i); });
}

void glu(Activation act, const float* gate, const float* up, float* y, size_t n, ThreadPool* pool) {
  split(pool, n, kMinPerThread, [&](size_t i, size_t e) { T().glu(act, gate + i, up + i, y + i, e - i); });
}

void soft_cap(const float* x, float* y, size_t n, float cap, ThreadPool* pool) {
  split(pool, n, kMinPerThread, [&](size_t i, size_t e) { T().soft_cap(x + i, y + i, e - i, cap); });
}

void softmax(const float* x, float* y, size_t rows, size_t cols, float scale, float softcap, ThreadPool* pool) {
  split(pool, rows, row_grain(cols),
        [&](size_t b, size_t e) { T().softmax(x + b * cols, y + b * cols, e - b, cols, scale, softcap); });
}

size_t argmax(const float* x, size_t n) { return T().argmax(x, n); }

}  // namespace tf::kernels
