// Convolution, pooling, BatchNorm, cosine similarity and masked attention:
// values against direct definitions, gradients against finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "grad_check.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

using test::check_gradients;
using test::random_var;
using Vars = std::vector<Var>;

TEST(VisionOps, Conv2dMatchesDirectSum) {
  for (auto [stride, pad] : {std::pair{1, 0}, std::pair{1, 1}, std::pair{2, 1}}) {
    const int64_t N = 2, C = 3, H = 5, W = 6, O = 4, k = 3;
    const Var x = random_var({N, C, H, W}, 1), w = random_var({O, C, k, k}, 2), b = random_var({O}, 3);
    const Var y = conv2d(x, w, b, stride, pad);
    const int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    ASSERT_EQ(y.shape(), (Shape{N, O, Ho, Wo}));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t oy = 0; oy < Ho; ++oy)
          for (int64_t ox = 0; ox < Wo; ++ox) {
            double s = b.data()[o];
            for (int64_t c = 0; c < C; ++c)
              for (int64_t ky = 0; ky < k; ++ky)
                for (int64_t kx = 0; kx < k; ++kx) {
                  const int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                  if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                    s += double(x.data()[((n * C + c) * H + iy) * W + ix]) * w.data()[((o * C + c) * k + ky) * k + kx];
                }
            EXPECT_NEAR(y.data()[((n * O + o) * Ho + oy) * Wo + ox], s, 1e-4);
          }
    check_gradients([&](const Vars& v) { return conv2d(v[0], v[1], v[2], stride, pad); }, {x, w, b});
  }
  check_gradients([](const Vars& v) { return conv2d(v[0], v[1], Var(), 1, 0); },
                  {random_var({1, 2, 4, 4}, 4), random_var({3, 2, 2, 3}, 5)});
}

TEST(VisionOps, Pooling) {
  const Var x = Var::from({1, 1, 2, 4}, {1, 5, 2, 0, 3, -1, 7, 4}, true);
  const Var mx = max_pool2d(x, 2), av = avg_pool2d(x, 2);
  EXPECT_EQ(mx.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(mx.data()[0], 5.0f);
  EXPECT_EQ(mx.data()[1], 7.0f);
  EXPECT_FLOAT_EQ(av.data()[0], 2.0f);
  EXPECT_FLOAT_EQ(av.data()[1], 3.25f);
  for (auto [k, stride, pad] : {std::tuple{2, 0, 0}, std::tuple{3, 2, 1}, std::tuple{2, 1, 0}}) {
    SCOPED_TRACE(testing::Message() << "kernel " << k << " stride " << stride << " padding " << pad);
    check_gradients([&](const Vars& v) { return max_pool2d(v[0], k, stride, pad); }, {random_var({2, 2, 5, 4}, 6)});
    check_gradients([&](const Vars& v) { return avg_pool2d(v[0], k, stride, pad); }, {random_var({2, 2, 5, 4}, 7)});
  }
}

TEST(VisionOps, BatchNormTrainingAndEval) {
  const int64_t N = 4, C = 3, H = 2, W = 3;
  const Var x = random_var({N, C, H, W}, 8, 2.0f, 1.0f), w = random_var({C}, 9), b = random_var({C}, 10);
  Var rm = Var::zeros({C}), rv = Var::from({C}, {1, 1, 1});
  const Var y = batch_norm(x, w, b, rm, rv, true, 0.1f);
  const int64_t M = N * H * W;
  for (int64_t c = 0; c < C; ++c) {
    double s = 0, ss = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H * W; ++i) s += x.data()[(n * C + c) * H * W + i];
    const double mu = s / double(M);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H * W; ++i) ss += std::pow(x.data()[(n * C + c) * H * W + i] - mu, 2);
    const double var = ss / double(M);
    EXPECT_NEAR(rm.data()[c], 0.1 * mu, 1e-5);
    EXPECT_NEAR(rv.data()[c], 0.9 + 0.1 * var * double(M) / double(M - 1), 1e-5);
    const int64_t k = (1 * C + c) * H * W + 2;
    EXPECT_NEAR(y.data()[k], (x.data()[k] - mu) / std::sqrt(var + 1e-5) * w.data()[c] + b.data()[c], 1e-4);
  }
  check_gradients([&](const Vars& v) { return batch_norm(v[0], v[1], v[2], rm, rv, true); }, {x, w, b},
                  {.h = 3e-3f, .atol = 2e-3, .rtol = 5e-3});
  const Var rm_before = Var(rm.value().clone());
  check_gradients([&](const Vars& v) { return batch_norm(v[0], v[1], v[2], rm, rv, false); }, {x, w, b});
  EXPECT_EQ(rm.data()[0], rm_before.data()[0]);  // eval leaves the statistics alone
  // [N, C] input (BatchNorm1d)
  check_gradients([&](const Vars& v) { return batch_norm(v[0], v[1], v[2], Var::zeros({5}), Var::from({5}, {1, 1, 1, 1, 1}), true); },
                  {random_var({6, 5}, 11), random_var({5}, 12), random_var({5}, 13)}, {.h = 3e-3f, .atol = 2e-3, .rtol = 5e-3});
}

TEST(VisionOps, CosineSimilarityAndLoss) {
  const Var a = Var::from({2, 2}, {1, 0, 3, 4}, true), b = Var::from({2, 2}, {0, 2, 6, 8}, true);
  const Var c = cosine_similarity(a, b);
  EXPECT_NEAR(c.data()[0], 0.0f, 1e-6);
  EXPECT_NEAR(c.data()[1], 1.0f, 1e-6);
  EXPECT_NEAR(cosine_loss(a, b).item(), 0.5f, 1e-6);
  check_gradients([](const Vars& v) { return cosine_similarity(v[0], v[1]); }, {random_var({3, 4, 5}, 14), random_var({3, 4, 5}, 15)});
  check_gradients([](const Vars& v) { return cosine_loss(v[0], v[1]); }, {random_var({4, 6}, 16), random_var({4, 6}, 17)});
}

// Reference: per sequence and head, softmax over the allowed keys, by hand.
TEST(VisionOps, MaskedAttentionMatchesDefinition) {
  const int64_t B = 2, T = 5, H = 2, Hkv = 1, D = 3;
  const std::vector<int32_t> lengths = {5, 3};
  const Var q = random_var({B * T, H * D}, 18), k = random_var({B * T, Hkv * D}, 19), v = random_var({B * T, Hkv * D}, 20);
  for (auto [causal, window] : {std::pair{false, 0}, std::pair{true, 0}, std::pair{true, 2}}) {
    SCOPED_TRACE(testing::Message() << (causal ? "causal" : "bidirectional") << " window " << window);
    const Var out = self_attention(q, k, v, B, H, Hkv, 0.5f, causal, lengths, window);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t t = 0; t < T; ++t) {
          std::vector<double> want(size_t(D), 0.0);
          if (t < lengths[size_t(b)]) {
            const int64_t last = std::min<int64_t>(causal ? t : T - 1, lengths[size_t(b)] - 1);
            const int64_t first = window ? std::max<int64_t>(0, t - window + 1) : 0;
            std::vector<double> p;
            double mx = -1e300, sum = 0;
            for (int64_t j = first; j <= last; ++j) {
              double s = 0;
              for (int64_t d = 0; d < D; ++d) s += double(q.data()[(b * T + t) * H * D + h * D + d]) * k.data()[(b * T + j) * D + d];
              p.push_back(0.5 * s);
              mx = std::max(mx, 0.5 * s);
            }
            for (double& x : p) sum += (x = std::exp(x - mx));
            for (int64_t j = first; j <= last; ++j)
              for (int64_t d = 0; d < D; ++d) want[size_t(d)] += p[size_t(j - first)] / sum * v.data()[(b * T + j) * D + d];
          }
          for (int64_t d = 0; d < D; ++d)
            EXPECT_NEAR(out.data()[(b * T + t) * H * D + h * D + d], want[size_t(d)], 1e-5) << b << " " << h << " " << t;
        }
    check_gradients([&](const Vars& x) { return self_attention(x[0], x[1], x[2], B, H, Hkv, 0.5f, causal, lengths, window); },
                    {q, k, v});
  }
}

TEST(VisionOps, AttentionDropout) {
  const int64_t B = 2, T = 6, H = 2, D = 4;
  const Var q = random_var({B * T, H * D}, 22), k = random_var({B * T, H * D}, 23), v = random_var({B * T, H * D}, 24);
  const AttentionDropout drop{0.3f, 99};
  const Var a = self_attention(q, k, v, B, H, H, 0.5f, true, {}, 0, drop);
  const Var again = self_attention(q, k, v, B, H, H, 0.5f, true, {}, 0, drop);
  const Var other = self_attention(q, k, v, B, H, H, 0.5f, true, {}, 0, {0.3f, 100});
  const Var none = self_attention(q, k, v, B, H, H, 0.5f, true, {}, 0);
  int differ = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_EQ(a.data()[i], again.data()[i]);
    differ += a.data()[i] != other.data()[i];
  }
  EXPECT_GT(differ, a.numel() / 4);
  // Averaged over many masks, dropout leaves the output's expectation alone.
  std::vector<double> avg(size_t(a.numel()), 0.0);
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const Var d = self_attention(q, k, v, B, H, H, 0.5f, true, {}, 0, {0.3f, seed * 7919});
    for (int64_t i = 0; i < a.numel(); ++i) avg[size_t(i)] += d.data()[i] / 2000.0;
  }
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(avg[size_t(i)], none.data()[i], 0.08) << i;
  check_gradients([&](const Vars& x) { return self_attention(x[0], x[1], x[2], B, H, H, 0.5f, true, {}, 0, drop); },
                  {q, k, v});
}

TEST(VisionOps, RopeOnPaddedBatchKeepsPositions) {
  // Right padding: token t of every sequence is at position t, as for unpadded ones.
  const std::vector<float> inv_freq = {1.0f, 0.5f};
  const Var x = random_var({2 * 3, 4}, 21);
  const Var y = rope(x, 2, 1, inv_freq);
  for (int64_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y.data()[i], x.data()[i]);        // position 0: identity
  for (int64_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y.data()[12 + i], x.data()[12 + i]);  // row 3 = position 0 again
}

}  // namespace
}  // namespace tf::train
