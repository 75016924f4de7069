// The ops the transformer models are built from: fused causal attention
// (against the composed reference and finite differences), RoPE, the
// [in, out] linear and the fused head + cross-entropy.
#include <gtest/gtest.h>

#include <cmath>

#include "grad_check.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

using test::check_gradients;
using test::random_var;
using Vars = std::vector<Var>;

// [B·T, H·D] token-major -> [B, H, T, D]
Var to_heads(const Var& x, int64_t B, int64_t H) {
  const int64_t T = x.dim(0) / B, D = x.dim(1) / H;
  return transpose(reshape(x, {B, T, H, D}), 1, 2);
}

Var repeat_kv(const Var& x, int64_t group) {  // [B, Hkv, T, D] -> [B, Hkv·group, T, D]
  if (group == 1) return x;
  std::vector<Var> heads;
  for (int64_t h = 0; h < x.dim(1); ++h)
    for (int64_t g = 0; g < group; ++g) heads.push_back(slice(x, 1, h, h + 1));
  return concat(heads, 1);
}

TEST(TransformerOps, FusedAttentionEqualsComposed) {
  for (auto [B, T, H, Hkv, D] : {std::tuple{2, 5, 2, 2, 4}, std::tuple{1, 7, 4, 2, 3}, std::tuple{3, 1, 2, 1, 8}}) {
    SCOPED_TRACE(testing::Message() << B << "x" << T << " heads " << H << "/" << Hkv << " D " << D);
    const Var q = random_var({B * T, H * D}, 1), k = random_var({B * T, Hkv * D}, 2), v = random_var({B * T, Hkv * D}, 3);
    const float scale = 1.0f / std::sqrt(float(D));
    const Var fused = causal_self_attention(q, k, v, B, H, Hkv, scale);
    const Var ref = causal_attention(to_heads(q, B, H), repeat_kv(to_heads(k, B, Hkv), H / Hkv),
                                     repeat_kv(to_heads(v, B, Hkv), H / Hkv));
    const Var ref_rows = reshape(transpose(ref, 1, 2), {B * T, H * D});
    for (int64_t i = 0; i < fused.numel(); ++i) EXPECT_NEAR(fused.data()[i], ref_rows.data()[i], 1e-5) << i;
  }
}

TEST(TransformerOps, FusedAttentionGradients) {
  for (auto [B, T, H, Hkv, D] : {std::tuple{2, 4, 2, 2, 3}, std::tuple{1, 5, 4, 2, 2}, std::tuple{1, 3, 3, 1, 4}}) {
    SCOPED_TRACE(testing::Message() << B << "x" << T << " heads " << H << "/" << Hkv << " D " << D);
    check_gradients([&](const Vars& x) { return causal_self_attention(x[0], x[1], x[2], B, H, Hkv, 0.7f); },
                    {random_var({B * T, H * D}, 4), random_var({B * T, Hkv * D}, 5), random_var({B * T, Hkv * D}, 6)});
  }
}

TEST(TransformerOps, RopeRotatesHalvesAndInverts) {
  const std::vector<float> inv_freq = {1.0f, 0.1f};
  const int64_t B = 2, T = 3, H = 2, D = 6;  // dims 4, 5 of each head pass through
  const Var x = random_var({B * T, H * D}, 7);
  const Var y = rope(x, B, H, inv_freq);
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < D; ++i) {
        const int64_t at = r * H * D + h * D;
        const float pos = float(r % T);
        float want = x.data()[at + i];
        if (i < 4) {
          const int64_t j = i % 2;
          const float a = pos * inv_freq[size_t(j)], c = std::cos(a), s = std::sin(a);
          want = i < 2 ? x.data()[at + j] * c - x.data()[at + j + 2] * s : x.data()[at + j + 2] * c + x.data()[at + j] * s;
        }
        EXPECT_NEAR(y.data()[at + i], want, 1e-6) << r << " " << h << " " << i;
      }
  check_gradients([&](const Vars& v) { return rope(v[0], B, H, inv_freq); }, {random_var({B * T, H * D}, 8)});
}

TEST(TransformerOps, LinearKnEqualsLinearOfTranspose) {
  const Var x = random_var({5, 6}, 9), w = random_var({6, 4}, 10), b = random_var({4}, 11);
  const Var y = linear_kn(x, w, b), ref = linear(x, transpose(w, 0, 1), b);
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_NEAR(y.data()[i], ref.data()[i], 1e-5);
  check_gradients([](const Vars& v) { return linear_kn(v[0], v[1], v[2]); }, {x, w, b});
  check_gradients([](const Vars& v) { return linear_kn(v[0], v[1]); }, {random_var({2, 3, 5}, 12), random_var({5, 2}, 13)});
}

TEST(TransformerOps, LinearCrossEntropyEqualsComposed) {
  const Var h = random_var({9, 6}, 14), w = random_var({11, 6}, 15);
  const std::vector<int32_t> targets = {3, -100, 0, 10, 5, 5, -100, 1, 7};
  const float fused = linear_cross_entropy(h, w, targets).item();
  const float ref = cross_entropy(linear(h, w), targets).item();
  EXPECT_NEAR(fused, ref, 1e-5);
  check_gradients([&](const Vars& v) { return linear_cross_entropy(v[0], v[1], targets); }, {h, w});
  // A target whose probability underflows f32 still gets its exact loss.
  Var big = Var::from({1, 2}, {1.0f, 0.0f}, true), head = Var::from({2, 2}, {200.0f, 0.0f, 0.0f, 0.0f}, true);
  EXPECT_NEAR(linear_cross_entropy(big, head, std::vector<int32_t>{1}).item(), 200.0f, 1e-3);
  // Every target ignored: 0, nothing recorded.
  Tape tape;
  EXPECT_EQ(linear_cross_entropy(h, w, std::vector<int32_t>(9, -100)).item(), 0.0f);
  EXPECT_EQ(tape.size(), 0u);
}

}  // namespace
}  // namespace tf::train
