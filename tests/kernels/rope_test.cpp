// RoPE against the direct formula: bit-exact against HF's f32 recipe
// (angle = f32 product, f32 cos/sin, products rounded before the sum), and
// within 1e-5 relative of the same rotation done in double.
#include "kernels/cpu/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/test_util.h"
#include "tf/thread_pool.h"

namespace tf::kernels {
namespace {

struct Shape {
  size_t n_tokens, n_heads, head_dim, rot_dim, extra_stride;
};

void check(RopeLayout layout, Shape s, float attn_factor, ThreadPool* pool) {
  const size_t stride = s.n_heads * s.head_dim + s.extra_stride;
  auto x = test::random_floats(s.n_tokens * stride, s.head_dim + s.rot_dim, 3.0f);
  const auto x0 = x;
  std::vector<int32_t> pos(s.n_tokens);
  for (size_t t = 0; t < s.n_tokens; ++t) pos[t] = int32_t(t * 977 % 40000);  // up to long contexts
  std::vector<float> inv_freq(s.rot_dim / 2);
  rope_inv_freq(10000.0f, s.rot_dim, inv_freq.data());
  rope(x.data(), s.n_tokens, s.n_heads, s.head_dim, s.rot_dim, pos.data(), inv_freq.data(), layout, attn_factor,
       s.extra_stride ? stride : 0, pool);

  const size_t half = s.rot_dim / 2;
  for (size_t t = 0; t < s.n_tokens; ++t)
    for (size_t h = 0; h < s.n_heads; ++h) {
      const float* in = x0.data() + t * stride + h * s.head_dim;
      const float* out = x.data() + t * stride + h * s.head_dim;
      for (size_t i = 0; i < half; ++i) {
        const size_t a = layout == RopeLayout::NeoX ? i : 2 * i;
        const size_t b = layout == RopeLayout::NeoX ? i + half : 2 * i + 1;
        const float theta = float(pos[t]) * inv_freq[i];
        const float c = std::cos(theta) * attn_factor, sn = std::sin(theta) * attn_factor;
        const float pc = in[a] * c, ps = in[b] * sn, qc = in[b] * c, qs = in[a] * sn;
        ASSERT_EQ(out[a], pc - ps) << "t " << t << " h " << h << " i " << i;
        ASSERT_EQ(out[b], qc + qs) << "t " << t << " h " << h << " i " << i;
        const double cd = std::cos(double(theta)) * attn_factor, sd = std::sin(double(theta)) * attn_factor;
        const double mag = (std::abs(in[a]) + std::abs(in[b])) * attn_factor;
        EXPECT_NEAR(out[a], in[a] * cd - in[b] * sd, 1e-6 * mag);
        EXPECT_NEAR(out[b], in[b] * cd + in[a] * sd, 1e-6 * mag);
      }
      for (size_t d = s.rot_dim; d < s.head_dim; ++d) ASSERT_EQ(out[d], in[d]) << "partial rotary touched dim " << d;
    }
  // bytes between token rows are not touched
  for (size_t t = 0; t < s.n_tokens; ++t)
    for (size_t e = s.n_heads * s.head_dim; e < stride; ++e) ASSERT_EQ(x[t * stride + e], x0[t * stride + e]);
}

TEST(Rope, MatchesFormulaBothLayouts) {
  ThreadPool pool(3);
  const Shape shapes[] = {{1, 32, 64, 64, 0}, {7, 4, 128, 128, 0}, {3, 3, 80, 32, 5}, {130, 2, 18, 10, 64},
                          {2, 1, 6, 2, 0}};
  for (RopeLayout l : {RopeLayout::Normal, RopeLayout::NeoX})
    for (const Shape& s : shapes)
      for (float f : {1.0f, 1.2f}) {
        check(l, s, f, nullptr);
        check(l, s, f, &pool);
        if (HasFatalFailure()) return;
      }
}

TEST(Rope, InvFreqIsHfDefault) {
  std::vector<float> f(64);
  rope_inv_freq(500000.0f, 128, f.data());
  for (size_t i = 0; i < 64; ++i) EXPECT_NEAR(f[i], 1.0 / std::pow(500000.0, 2.0 * i / 128), 1e-6 * f[i]);
  EXPECT_EQ(f[0], 1.0f);
}

TEST(Rope, PositionZeroIsIdentity) {
  auto x = test::random_floats(2 * 64, 3);
  auto y = x;
  std::vector<float> f(32);
  rope_inv_freq(10000.0f, 64, f.data());
  int32_t pos[1] = {0};
  rope(y.data(), 1, 2, 64, 64, pos, f.data(), RopeLayout::NeoX);
  EXPECT_EQ(x, y);
}

}  // namespace
}  // namespace tf::kernels
