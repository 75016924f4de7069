// Every differentiable op against central finite differences, on random
// shapes (broadcasting included).
#include <gtest/gtest.h>

#include <cmath>

#include "grad_check.h"
#include "tf/error.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

using test::check_gradients;
using test::random_shape;
using test::random_var;
using Vars = std::vector<Var>;

TEST(TrainGrad, MatmulAllTransposesAndBatches) {
  Rng rng(1);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (int batched = 0; batched < 3; ++batched) {
        const int64_t M = 1 + int64_t(rng.below(4)), N = 1 + int64_t(rng.below(4)), K = 1 + int64_t(rng.below(5));
        Shape sa = ta ? Shape{K, M} : Shape{M, K}, sb = tb ? Shape{N, K} : Shape{K, N};
        if (batched >= 1) sa.insert(sa.begin(), {2, 3});
        if (batched == 2) sb.insert(sb.begin(), {2, 3});  // batched == 1: b shared across the batch
        SCOPED_TRACE(testing::Message() << "ta=" << ta << " tb=" << tb << " batched=" << batched);
        check_gradients([&](const Vars& v) { return matmul(v[0], v[1], ta, tb); },
                        {random_var(sa, 10 + uint64_t(ta)), random_var(sb, 20 + uint64_t(tb))});
      }
}

TEST(TrainGrad, MatmulMatchesReference) {
  const Var a = random_var({3, 5}, 1), b = random_var({5, 4}, 2);
  const Var c = matmul(a, b);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) {
      double s = 0;
      for (int k = 0; k < 5; ++k) s += double(a.data()[i * 5 + k]) * b.data()[k * 4 + j];
      EXPECT_NEAR(c.data()[i * 4 + j], s, 1e-5);
    }
}

TEST(TrainGrad, LinearWithAndWithoutBias) {
  check_gradients([](const Vars& v) { return linear(v[0], v[1], v[2]); },
                  {random_var({2, 3, 6}, 1), random_var({4, 6}, 2), random_var({4}, 3)});
  check_gradients([](const Vars& v) { return linear(v[0], v[1]); }, {random_var({5, 7}, 4), random_var({3, 7}, 5)});
  // Large enough for the packed GEMM path of the forward kernel.
  check_gradients([](const Vars& v) { return linear(v[0], v[1]); }, {random_var({20, 16}, 6, 0.3f), random_var({12, 16}, 7, 0.3f)},
                  {.h = 3e-3f, .atol = 5e-3, .rtol = 2e-2});
}

TEST(TrainGrad, BinaryOpsBroadcast) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 4}, {3, 4}}, {{2, 3, 4}, {4}}, {{2, 3, 4}, {3, 1}}, {{4}, {2, 3, 4}}, {{2, 1, 4}, {1, 3, 1}}, {{}, {2, 3}}};
  for (const auto& [sa, sb] : cases) {
    SCOPED_TRACE(shape_string(sa) + " with " + shape_string(sb));
    check_gradients([](const Vars& v) { return add(v[0], v[1]); }, {random_var(sa, 1), random_var(sb, 2)});
    check_gradients([](const Vars& v) { return sub(v[0], v[1]); }, {random_var(sa, 3), random_var(sb, 4)});
    check_gradients([](const Vars& v) { return mul(v[0], v[1]); }, {random_var(sa, 5), random_var(sb, 6)});
    // Divisors kept away from zero: 1.5 ± 0.3.
    check_gradients([](const Vars& v) { return div(v[0], v[1]); }, {random_var(sa, 7), random_var(sb, 8, 0.3f, 1.5f)});
  }
}

TEST(TrainGrad, BinaryOpsRandomBroadcastShapes) {
  // Random rank-3 output shapes; each operand drops leading dims and sets
  // random dims to 1.
  Rng rng(11);
  for (int trial = 0; trial < 8; ++trial) {
    const Shape out = random_shape(rng, 3, 4);
    auto operand = [&] {
      Shape s(out.begin() + int64_t(rng.below(3)), out.end());
      for (int64_t& d : s)
        if (rng.below(3) == 0) d = 1;
      return s;
    };
    const Shape sa = operand(), sb = operand();
    SCOPED_TRACE(shape_string(sa) + " with " + shape_string(sb));
    check_gradients([](const Vars& v) { return mul(v[0], v[1]); }, {random_var(sa, 1), random_var(sb, 2)});
    check_gradients([](const Vars& v) { return div(v[0], v[1]); }, {random_var(sa, 3), random_var(sb, 4, 0.3f, 1.5f)});
  }
}

TEST(TrainGrad, ComposedGraphReusesIntermediates) {
  // A transformer-style block where intermediates feed several consumers:
  // residual adds, a norm, an MLP, and a loss.
  const std::vector<int32_t> targets = {1, 0, 3};
  check_gradients(
      [&](const Vars& v) {
        const Var h = rms_norm(v[0], v[3]);
        const Var y = add(v[0], linear(silu(linear(h, v[1])), v[2]));
        return add(cross_entropy(y, targets), mean(mul(y, y)));
      },
      {random_var({3, 4}, 1), random_var({6, 4}, 2, 0.5f), random_var({4, 6}, 3, 0.5f), random_var({4}, 4, 0.1f, 1.0f)});
}

TEST(TrainGrad, BroadcastShapeAndValues) {
  const Var a = Var::from({2, 1}, {1, 2}), b = Var::from({3}, {10, 20, 30});
  const Var c = add(a, b);
  ASSERT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(std::vector<float>(c.data(), c.data() + 6), (std::vector<float>{11, 21, 31, 12, 22, 32}));
  EXPECT_THROW(add(Var::zeros({2, 3}), Var::zeros({4})), Error);
}

TEST(TrainGrad, BiasAddIsBroadcastAdd) {
  check_gradients([](const Vars& v) { return add(v[0], v[1]); }, {random_var({5, 3}, 1), random_var({3}, 2)});
}

TEST(TrainGrad, ScalarAndUnaryOps) {
  Rng rng(3);
  const Shape s = random_shape(rng, 3);
  check_gradients([](const Vars& v) { return scale(v[0], -2.5f); }, {random_var(s, 1)});
  check_gradients([](const Vars& v) { return add_scalar(v[0], 3.0f); }, {random_var(s, 2)});
  check_gradients([](const Vars& v) { return neg(v[0]); }, {random_var(s, 3)});
  check_gradients([](const Vars& v) { return square(v[0]); }, {random_var(s, 4)});
  check_gradients([](const Vars& v) { return exp(v[0]); }, {random_var(s, 5, 0.5f)});
  check_gradients([](const Vars& v) { return log(v[0]); }, {random_var(s, 6, 0.2f, 2.0f)});
  check_gradients([](const Vars& v) { return gelu(v[0]); }, {random_var(s, 7)});
  check_gradients([](const Vars& v) { return gelu_tanh(v[0]); }, {random_var(s, 8)});
  check_gradients([](const Vars& v) { return silu(v[0]); }, {random_var(s, 9)});
  check_gradients([](const Vars& v) { return tanh(v[0]); }, {random_var(s, 10)});
  check_gradients([](const Vars& v) { return sigmoid(v[0]); }, {random_var(s, 11)});
}

TEST(TrainGrad, LargeElementwiseOpsSplitAcrossThreads) {
  // Big enough for the threaded path; checked element by element against the
  // closed forms rather than by finite differences.
  const int64_t n = 300000;
  Var x = random_var({n}, 1), y = random_var({n}, 2);
  Tape tape;
  const Var s = silu(x), p = mul(s, y);
  tape.backward(sum(p));
  for (int64_t i = 0; i < n; i += 997) {
    const double v = x.data()[i], sig = 1 / (1 + std::exp(-v));
    ASSERT_NEAR(s.data()[i], v * sig, 1e-6);
    ASSERT_NEAR(y.grad().data_as<float>()[i], v * sig, 1e-6);
    ASSERT_NEAR(x.grad().data_as<float>()[i], y.data()[i] * sig * (1 + v * (1 - sig)), 1e-5);
  }
}

TEST(TrainGrad, ReluAwayFromTheKink) {
  Var x = random_var({4, 5}, 1);
  for (int64_t i = 0; i < x.numel(); ++i) {  // |x| >= 0.1, so ±h never crosses 0
    float& v = x.mutable_data()[i];
    v = v < 0 ? v - 0.1f : v + 0.1f;
  }
  check_gradients([](const Vars& v) { return relu(v[0]); }, {x});
}

TEST(TrainGrad, ActivationValuesMatchDefinitions) {
  const Var x = Var::from({3}, {-1.0f, 0.5f, 2.0f});
  const Var g = gelu(x), gt = gelu_tanh(x), s = silu(x);
  for (int i = 0; i < 3; ++i) {
    const double v = x.data()[i];
    EXPECT_NEAR(g.data()[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
    EXPECT_NEAR(gt.data()[i], 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))), 1e-6);
    EXPECT_NEAR(s.data()[i], v / (1 + std::exp(-v)), 1e-6);
  }
}

TEST(TrainGrad, Reductions) {
  Rng rng(4);
  for (int trial = 0; trial < 3; ++trial) {
    const Shape s = random_shape(rng, 3);
    check_gradients([](const Vars& v) { return sum(v[0]); }, {random_var(s, 1)});
    check_gradients([](const Vars& v) { return mean(v[0]); }, {random_var(s, 2)});
    for (int dim = -1; dim < 3; ++dim)
      for (bool keep : {false, true}) {
        SCOPED_TRACE(testing::Message() << shape_string(s) << " dim " << dim << " keepdim " << keep);
        check_gradients([=](const Vars& v) { return sum(v[0], dim, keep); }, {random_var(s, 3)});
        check_gradients([=](const Vars& v) { return mean(v[0], dim, keep); }, {random_var(s, 4)});
        // Distinct values (a shuffled ramp, 0.1 apart) so ±h never changes the argmax.
        Var x = Var::zeros(s, true);
        std::vector<float> ramp(size_t(x.numel()));
        for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = 0.1f * float(i);
        for (size_t i = ramp.size(); i > 1; --i) std::swap(ramp[i - 1], ramp[rng.below(i)]);
        std::copy(ramp.begin(), ramp.end(), x.mutable_data());
        check_gradients([=](const Vars& v) { return max(v[0], dim, keep); }, {x});
      }
  }
}

TEST(TrainGrad, ShapeOps) {
  check_gradients([](const Vars& v) { return reshape(v[0], {3, -1}); }, {random_var({2, 3, 4}, 1)});
  check_gradients([](const Vars& v) { return transpose(v[0], 0, 2); }, {random_var({2, 3, 4}, 2)});
  check_gradients([](const Vars& v) { return transpose(v[0], -1, -2); }, {random_var({2, 3, 4}, 3)});
  check_gradients([](const Vars& v) { return slice(v[0], 1, 1, 3); }, {random_var({2, 4, 3}, 4)});
  check_gradients([](const Vars& v) { return slice(v[0], -1, 0, 2); }, {random_var({2, 4, 3}, 5)});
  for (int dim = 0; dim < 3; ++dim) {
    Shape a{2, 3, 4}, b{2, 3, 4};
    b[size_t(dim)] = 1;
    check_gradients([=](const Vars& v) { return concat(v, dim); }, {random_var(a, 6), random_var(b, 7), random_var(a, 8)});
  }
  EXPECT_THROW(concat({Var::zeros({2, 3}), Var::zeros({3, 3})}, 1), Error);
  EXPECT_THROW(slice(Var::zeros({2, 3}), 1, 2, 4), Error);
}

TEST(TrainGrad, EmbeddingRepeatsAccumulate) {
  const std::vector<int32_t> ids = {3, 0, 3, 1, 3};
  check_gradients([&](const Vars& v) { return embedding(v[0], ids); }, {random_var({5, 4}, 1)});
  EXPECT_THROW(embedding(Var::zeros({5, 4}), {5}), Error);
}

TEST(TrainGrad, Norms) {
  check_gradients([](const Vars& v) { return layer_norm(v[0], v[1], v[2]); },
                  {random_var({3, 7}, 1, 2.0f, 1.0f), random_var({7}, 2), random_var({7}, 3)});
  check_gradients([](const Vars& v) { return layer_norm(v[0], Var(), Var()); }, {random_var({2, 2, 5}, 4)});
  check_gradients([](const Vars& v) { return rms_norm(v[0], v[1]); }, {random_var({4, 6}, 5), random_var({6}, 6)});
  check_gradients([](const Vars& v) { return rms_norm(v[0], Var()); }, {random_var({2, 3, 5}, 7)});
}

TEST(TrainGrad, SoftmaxAndLogSoftmax) {
  check_gradients([](const Vars& v) { return softmax(v[0]); }, {random_var({3, 6}, 1, 2.0f)});
  check_gradients([](const Vars& v) { return log_softmax(v[0]); }, {random_var({2, 2, 5}, 2, 2.0f)});
  const Var s = softmax(Var::from({1, 3}, {1000.0f, 1000.0f, -1000.0f}));  // no overflow
  EXPECT_NEAR(s.data()[0], 0.5f, 1e-6);
  EXPECT_NEAR(s.data()[2], 0.0f, 1e-6);
}

TEST(TrainGrad, CrossEntropy) {
  const std::vector<int32_t> t = {2, 0, -100, 4};
  check_gradients([&](const Vars& v) { return cross_entropy(v[0], t); }, {random_var({4, 5}, 1, 2.0f)});
  check_gradients([&](const Vars& v) { return cross_entropy(v[0], t, -100, 0.1f); }, {random_var({4, 5}, 2, 2.0f)});
  check_gradients([&](const Vars& v) { return cross_entropy(v[0], {1, 0}, 1); }, {random_var({2, 3}, 3)});
  {  // every target ignored: a zero loss that records nothing
    Tape tape;
    EXPECT_FALSE(cross_entropy(random_var({2, 3}, 4), {1, 1}, 1).requires_grad());
  }
}

TEST(TrainGrad, CrossEntropyValue) {
  // Uniform logits: −log(1/C) whatever the target; ignored rows do not count.
  const Var logits = Var::zeros({3, 4});
  EXPECT_NEAR(cross_entropy(logits, {1, -100, 3}).item(), std::log(4.0), 1e-6);
  // Label smoothing ε on logits [0, log 3] with target 1: p = [1/4, 3/4].
  const Var l2 = Var::from({1, 2}, {0.0f, float(std::log(3.0))});
  const double eps = 0.2, lp0 = std::log(0.25), lp1 = std::log(0.75);
  EXPECT_NEAR(cross_entropy(l2, {1}, -100, float(eps)).item(), -((1 - eps) * lp1 + eps / 2 * (lp0 + lp1)), 1e-6);
  EXPECT_EQ(cross_entropy(logits, {-100, -100, -100}).item(), 0.0f);
}

TEST(TrainGrad, MseLoss) {
  check_gradients([](const Vars& v) { return mse_loss(v[0], v[1]); }, {random_var({3, 4}, 1), random_var({3, 4}, 2)});
  EXPECT_NEAR(mse_loss(Var::from({2}, {1, 3}), Var::from({2}, {0, 0})).item(), 5.0f, 1e-6);
}

TEST(TrainGrad, KlDivWithTemperature) {
  for (float T : {1.0f, 2.0f, 4.0f}) {
    SCOPED_TRACE(T);
    check_gradients([=](const Vars& v) { return kl_div(v[0], v[1], T); }, {random_var({3, 5}, 1, 2.0f), random_var({3, 5}, 2, 2.0f)});
  }
  const Var same = random_var({2, 4}, 3);
  EXPECT_NEAR(kl_div(same, same, 2.0f).item(), 0.0f, 1e-6);
  // Two classes, T = 1: teacher p = [1/2, 1/2], student q = [1/4, 3/4].
  const Var s = Var::from({1, 2}, {0.0f, float(std::log(3.0))}), t = Var::zeros({1, 2});
  EXPECT_NEAR(kl_div(s, t).item(), 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75), 1e-6);
}

TEST(TrainGrad, DropoutIsSeededAndScaled) {
  const Var x = random_var({50, 40}, 1);
  Rng r1(9), r2(9);
  const Var a = dropout(x, 0.25f, r1), b = dropout(x, 0.25f, r2);
  int64_t zeros = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    EXPECT_EQ(a.data()[i], b.data()[i]);
    if (a.data()[i] == 0.0f)
      ++zeros;
    else
      EXPECT_NEAR(a.data()[i], x.data()[i] / 0.75f, 1e-6);
  }
  EXPECT_NEAR(double(zeros) / double(x.numel()), 0.25, 0.03);
  Rng r3(1);
  EXPECT_TRUE(dropout(x, 0.5f, r3, false).same(x));
  // The gradient uses the forward pass's mask: re-seed per evaluation.
  check_gradients([](const Vars& v) {
    Rng rng(5);
    return dropout(v[0], 0.3f, rng);
  }, {random_var({4, 6}, 2)});
}

TEST(TrainGrad, CausalAttention) {
  check_gradients([](const Vars& v) { return causal_attention(v[0], v[1], v[2]); },
                  {random_var({2, 2, 4, 3}, 1), random_var({2, 2, 4, 3}, 2), random_var({2, 2, 4, 3}, 3)});
}

TEST(TrainGrad, CausalAttentionIgnoresTheFuture) {
  const Var q = random_var({1, 1, 3, 2}, 1), k = random_var({1, 1, 3, 2}, 2), v = random_var({1, 1, 3, 2}, 3);
  const Var o1 = causal_attention(q, k, v);
  Var k2 = Var(k.value().clone()), v2 = Var(v.value().clone());
  k2.mutable_data()[5] += 5.0f;  // last position's key and value
  v2.mutable_data()[5] -= 5.0f;
  const Var o2 = causal_attention(q, k2, v2);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(o1.data()[i], o2.data()[i]);  // positions 0 and 1
  // Position 0 sees only itself: its output is v[0].
  EXPECT_NEAR(o1.data()[0], v.data()[0], 1e-6);
}

}  // namespace
}  // namespace tf::train
