// Rotary position embedding in the rotate-half layout (transformers' LLaMA,
// GPT-NeoX; what lib/models runs for HF checkpoints): in each head, element i
// of the first half of the rotary dims pairs with element i + rot/2.
#include <cmath>

#include "tf/error.h"
#include "tf/thread_pool.h"
#include "tf/train_ops.h"

namespace tf::train {

namespace {

// cos/sin of position·inv_freq[i] for every position, [T, rot/2] each. The
// angle is formed in f32, as transformers does (inv_freq and positions are
// f32 tensors there).
void rope_tables(int64_t T, std::span<const float> inv_freq, std::vector<float>& cos_t, std::vector<float>& sin_t) {
  const size_t half = inv_freq.size();
  cos_t.resize(size_t(T) * half);
  sin_t.resize(size_t(T) * half);
  for (int64_t t = 0; t < T; ++t)
    for (size_t i = 0; i < half; ++i) {
      const float a = float(t) * inv_freq[i];
      cos_t[size_t(t) * half + i] = std::cos(a);
      sin_t[size_t(t) * half + i] = std::sin(a);
    }
}

// y = rotate(x) by +angle (sign 1) or -angle (sign -1, the transpose: backward).
void rotate(const float* x, float* y, int64_t rows, int64_t T, int64_t n_heads, int64_t head_dim, size_t half,
            const std::vector<float>& cos_t, const std::vector<float>& sin_t, float sign, bool accumulate) {
  const int64_t row = n_heads * head_dim;
  default_pool().parallel_for(size_t(rows), 16, [&](size_t lo, size_t hi, int) {
    for (size_t r = lo; r < hi; ++r) {
      const float* c = cos_t.data() + size_t(int64_t(r) % T) * half;
      const float* s = sin_t.data() + size_t(int64_t(r) % T) * half;
      for (int64_t h = 0; h < n_heads; ++h) {
        const float* xh = x + int64_t(r) * row + h * head_dim;
        float* yh = y + int64_t(r) * row + h * head_dim;
        for (size_t i = 0; i < half; ++i) {
          const float x1 = xh[i], x2 = xh[i + half], sn = sign * s[i];
          const float y1 = x1 * c[i] - x2 * sn, y2 = x2 * c[i] + x1 * sn;
          if (accumulate) {
            yh[i] += y1;
            yh[i + half] += y2;
          } else {
            yh[i] = y1;
            yh[i + half] = y2;
          }
        }
        for (int64_t i = int64_t(2 * half); i < head_dim; ++i) yh[i] = accumulate ? yh[i] + xh[i] : xh[i];
      }
    }
  });
}

}  // namespace

Var rope(const Var& x, int64_t batch, int64_t n_heads, std::span<const float> inv_freq) {
  if (x.ndim() != 2 || batch <= 0 || n_heads <= 0 || x.dim(0) % batch != 0 || x.dim(1) % n_heads != 0 ||
      int64_t(2 * inv_freq.size()) > x.dim(1) / n_heads)
    fail("rope: x ", shape_string(x.shape()), " does not split into ", batch, " sequences of ", n_heads,
         " heads with ", 2 * inv_freq.size(), " rotary dims");
  const int64_t rows = x.dim(0), T = rows / batch, D = x.dim(1) / n_heads;
  const size_t half = inv_freq.size();
  std::vector<float> cos_t, sin_t;
  rope_tables(T, inv_freq, cos_t, sin_t);
  Var out = Var::zeros(x.shape());
  rotate(x.data(), out.mutable_data(), rows, T, n_heads, D, half, cos_t, sin_t, 1.0f, false);
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, rows, T, n_heads, D, half, cos_t = std::move(cos_t),
                                 sin_t = std::move(sin_t)](const Tensor& g) {
      Var gx = x;
      rotate(g.data_as<float>(), gx.grad_buffer(), rows, T, n_heads, D, half, cos_t, sin_t, -1.0f, true);
    });
  }
  return out;
}

}  // namespace tf::train
