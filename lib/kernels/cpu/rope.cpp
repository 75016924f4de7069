// RoPE. Plain C++ on purpose: the work per token is tiny next to the
// projections around it, and the compiler vectorises the rotation loops for
// the baseline ISA; what matters here is computing exactly what HF computes.
#include "kernels/cpu/rope.h"

#include <cmath>
#include <vector>

#include "tf/error.h"
#include "tf/thread_pool.h"

namespace tf::kernels {

namespace {

void rope_tokens(float* x, size_t t0, size_t t1, size_t n_heads, size_t head_dim, size_t rot_dim, const int32_t* pos,
                 const float* inv_freq, RopeLayout layout, float attn_factor, size_t token_stride) {
  const size_t half = rot_dim / 2;
  std::vector<float> cs(2 * half);
  float* c = cs.data();
  float* s = c + half;
  for (size_t t = t0; t < t1; ++t) {
    const float p = float(pos[t]);
    for (size_t i = 0; i < half; ++i) {
      const float theta = p * inv_freq[i];
      c[i] = std::cos(theta) * attn_factor;
      s[i] = std::sin(theta) * attn_factor;
    }
    for (size_t h = 0; h < n_heads; ++h) {
      float* v = x + t * token_stride + h * head_dim;
      if (layout == RopeLayout::NeoX) {
        float* a = v;
        float* b = v + half;
        for (size_t i = 0; i < half; ++i) {
          const float x1 = a[i], x2 = b[i];
          a[i] = x1 * c[i] - x2 * s[i];
          b[i] = x2 * c[i] + x1 * s[i];
        }
      } else {
        for (size_t i = 0; i < half; ++i) {
          const float x0 = v[2 * i], x1 = v[2 * i + 1];
          v[2 * i] = x0 * c[i] - x1 * s[i];
          v[2 * i + 1] = x1 * c[i] + x0 * s[i];
        }
      }
    }
  }
}

}  // namespace

void rope(float* x, size_t n_tokens, size_t n_heads, size_t head_dim, size_t rot_dim, const int32_t* pos,
          const float* inv_freq, RopeLayout layout, float attn_factor, size_t token_stride, ThreadPool* pool) {
  if (rot_dim % 2 || rot_dim > head_dim) fail("rope: rot_dim ", rot_dim, " must be even and <= head_dim ", head_dim);
  if (token_stride == 0) token_stride = n_heads * head_dim;
  auto run = [&](size_t b, size_t e) {
    rope_tokens(x, b, e, n_heads, head_dim, rot_dim, pos, inv_freq, layout, attn_factor, token_stride);
  };
  // A token's worth of rotation is ~n_heads·rot_dim multiplies: only a
  // prompt is worth spreading across threads.
  const size_t grain = 1 + 8192 / (n_heads * rot_dim + 1);
  if (!pool || pool->size() == 1 || n_tokens < 2 * grain) return run(0, n_tokens);
  pool->parallel_for(n_tokens, grain, [&](size_t b, size_t e, int) { run(b, e); });
}

void rope_inv_freq(float base, size_t rot_dim, float* inv_freq) {
  for (size_t i = 0; i < rot_dim / 2; ++i)
    inv_freq[i] = 1.0f / std::pow(base, float(int64_t(2 * i)) / float(rot_dim));
}

}  // namespace tf::kernels
