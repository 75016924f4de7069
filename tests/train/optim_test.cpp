// Optimizer steps against the update formulas worked by hand, schedules,
// clipping and accumulation.
#include <gtest/gtest.h>

#include <cmath>

#include "tf/error.h"
#include "tf/optim.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

Var scalar_param(float value) { return Var::parameter(Var::from({1}, {value}).value(), "p"); }

void set_grad(Var& p, std::vector<float> g) {
  float* d = p.grad_buffer();
  for (size_t i = 0; i < g.size(); ++i) d[i] = g[i];
}

TEST(Optim, SgdPlainAndWeightDecay) {
  Var p = scalar_param(1.0f);
  Sgd sgd({p}, {.lr = 0.1f});
  set_grad(p, {0.5f});
  sgd.step();
  EXPECT_FLOAT_EQ(p.item(), 0.95f);
  Var q = scalar_param(2.0f);
  Sgd decayed({q}, {.lr = 0.1f, .weight_decay = 0.1f});
  set_grad(q, {0.5f});
  decayed.step();
  EXPECT_FLOAT_EQ(q.item(), 2.0f - 0.1f * (0.5f + 0.1f * 2.0f));
}

TEST(Optim, SgdMomentumAndNesterov) {
  // Constant gradient 1, lr 0.1, momentum 0.9.
  Var p = scalar_param(1.0f);
  Sgd heavy({p}, {.lr = 0.1f, .momentum = 0.9f});
  set_grad(p, {1.0f});
  heavy.step();  // buf = 1
  EXPECT_FLOAT_EQ(p.item(), 0.9f);
  heavy.step();  // buf = 0.9 + 1 = 1.9
  EXPECT_FLOAT_EQ(p.item(), 0.71f);
  Var q = scalar_param(1.0f);
  Sgd nesterov({q}, {.lr = 0.1f, .momentum = 0.9f, .nesterov = true});
  set_grad(q, {1.0f});
  nesterov.step();  // d = 1 + 0.9·1
  EXPECT_FLOAT_EQ(q.item(), 0.81f);
  nesterov.step();  // buf = 1.9, d = 1 + 0.9·1.9
  EXPECT_FLOAT_EQ(q.item(), 0.539f);
  EXPECT_THROW(Sgd({q}, {.nesterov = true}), Error);
}

// Adam in double, straight from the paper / torch.optim docs.
double adam_reference(double p, const std::vector<double>& grads, double lr, double b1, double b2, double eps, double wd,
                      bool decoupled) {
  double m = 0, v = 0;
  for (size_t t = 1; t <= grads.size(); ++t) {
    double g = grads[t - 1];
    if (decoupled)
      p *= 1 - lr * wd;
    else
      g += wd * p;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double mh = m / (1 - std::pow(b1, double(t))), vh = v / (1 - std::pow(b2, double(t)));
    p -= lr * mh / (std::sqrt(vh) + eps);
  }
  return p;
}

TEST(Optim, AdamMatchesTheFormula) {
  const std::vector<double> grads = {0.5, -0.2, 0.3};
  Var p = scalar_param(1.0f);
  Adam adam({p}, {.lr = 0.1f, .weight_decay = 0.05f});
  for (double g : grads) {
    set_grad(p, {float(g)});
    adam.step();
  }
  EXPECT_NEAR(p.item(), adam_reference(1.0, grads, 0.1, 0.9, 0.999, 1e-8, 0.05, false), 1e-6);
  // First step of Adam moves by lr·sign(g) (bias correction makes m̂ = g, v̂ = g²).
  Var q = scalar_param(1.0f);
  Adam first({q}, {.lr = 0.1f});
  set_grad(q, {0.5f});
  first.step();
  EXPECT_NEAR(q.item(), 0.9f, 1e-6);
}

TEST(Optim, LargeParametersUpdateEveryElement) {
  // Big enough for the threaded update loop: every element must see the
  // same two steps as a scalar would.
  const int64_t n = 200000;
  Var p = Var::parameter(Tensor::zeros(DType::F32, {n}));
  for (int64_t i = 0; i < n; ++i) p.mutable_data()[i] = 1.0f;
  Adam adamw({p}, adamw_options(0.1f, 0.01f));
  for (float g : {0.5f, -0.3f}) {
    set_grad(p, std::vector<float>(size_t(n), g));
    adamw.step();
  }
  const double want = adam_reference(1.0, {0.5, -0.3}, 0.1, 0.9, 0.999, 1e-8, 0.01, true);
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(p.data()[i], want, 1e-6) << i;
}

TEST(Optim, AdamWDecouplesWeightDecay) {
  Var p = scalar_param(1.0f);
  Adam adamw({p}, adamw_options(0.1f, 0.01f));
  set_grad(p, {0.5f});
  adamw.step();
  EXPECT_NEAR(p.item(), 1.0 * (1 - 0.1 * 0.01) - 0.1, 1e-6);  // 0.899
  const std::vector<double> grads = {-0.4, 0.1, 0.7, 0.2};
  for (size_t i = 1; i < grads.size(); ++i) {
    set_grad(p, {float(grads[i])});
    adamw.step();
  }
  std::vector<double> all = grads;
  all[0] = 0.5;
  EXPECT_NEAR(p.item(), adam_reference(1.0, all, 0.1, 0.9, 0.999, 1e-8, 0.01, true), 1e-6);
}

TEST(Optim, ParamGroupsSkipDecayOnBiasesAndNorms) {
  Var w = Var::parameter(Var::from({1, 2}, {1, 1}).value(), "w"), b = Var::parameter(Var::from({2}, {1, 1}).value(), "b");
  const auto groups = decay_groups({w, b});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_TRUE(groups[0].params[0].same(w));
  EXPECT_TRUE(groups[1].params[0].same(b));
  Adam adamw(groups, adamw_options(0.1f, 0.5f));
  set_grad(w, {0, 0});  // zero gradient: only decay moves a parameter
  set_grad(b, {0, 0});
  adamw.step();
  EXPECT_FLOAT_EQ(w.data()[0], 1.0f - 0.1f * 0.5f);
  EXPECT_FLOAT_EQ(b.data()[0], 1.0f);
}

TEST(Optim, GroupLrScaleAndParamsWithoutGradients) {
  Var a = scalar_param(1.0f), b = scalar_param(1.0f), c = scalar_param(1.0f);
  Sgd sgd(std::vector<ParamGroup>{{{a}, {}, 1.0f}, {{b, c}, {}, 0.5f}}, {.lr = 0.1f});
  set_grad(a, {1.0f});
  set_grad(b, {1.0f});
  sgd.step();
  EXPECT_FLOAT_EQ(a.item(), 0.9f);
  EXPECT_FLOAT_EQ(b.item(), 0.95f);
  EXPECT_FLOAT_EQ(c.item(), 1.0f);  // no gradient: untouched
  sgd.zero_grad();
  EXPECT_FALSE(a.has_grad());
}

TEST(Optim, WarmupThenCosineOrLinearDecay) {
  LrSchedule s{.base_lr = 1.0f, .min_lr = 0.1f, .warmup_steps = 10, .total_steps = 110, .decay = LrSchedule::Decay::Cosine};
  EXPECT_FLOAT_EQ(s.at(0), 0.1f);
  EXPECT_FLOAT_EQ(s.at(4), 0.5f);
  EXPECT_FLOAT_EQ(s.at(9), 1.0f);
  EXPECT_FLOAT_EQ(s.at(10), 1.0f);
  EXPECT_NEAR(s.at(60), 0.55f, 1e-6);
  EXPECT_NEAR(s.at(35), 0.1f + 0.9f * 0.5f * (1.0f + std::cos(M_PI / 4)), 1e-6);
  EXPECT_FLOAT_EQ(s.at(110), 0.1f);
  EXPECT_FLOAT_EQ(s.at(500), 0.1f);
  s.decay = LrSchedule::Decay::Linear;
  EXPECT_NEAR(s.at(35), 0.1f + 0.9f * 0.75f, 1e-6);
  s.decay = LrSchedule::Decay::Constant;
  EXPECT_FLOAT_EQ(s.at(500), 1.0f);
  EXPECT_THROW(s.at(-1), Error);
}

TEST(Optim, ClipGradNormIsGlobal) {
  Var a = scalar_param(0.0f), b = scalar_param(0.0f);
  set_grad(a, {3.0f});
  set_grad(b, {4.0f});
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b}, 10.0), 5.0);  // under the limit: unchanged
  EXPECT_FLOAT_EQ(a.grad().data_as<float>()[0], 3.0f);
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b}, 1.0), 5.0);
  EXPECT_NEAR(a.grad().data_as<float>()[0], 0.6f, 1e-6);
  EXPECT_NEAR(b.grad().data_as<float>()[0], 0.8f, 1e-6);
}

TEST(Optim, AccumulatedMicroBatchesEqualOneBatch) {
  const Var x = Var::from({4, 2}, {1, 2, -1, 0.5f, 3, -2, 0, 1});
  const Var y = Var::from({4, 1}, {1, -1, 2, 0.5f});
  Var w = Var::parameter(Var::from({1, 2}, {0.3f, -0.7f}).value());
  {
    Tape tape;
    tape.backward(mse_loss(linear(x, w), y));
  }
  const std::vector<float> full(w.grad().data_as<float>(), w.grad().data_as<float>() + 2);
  w.zero_grad();
  for (int half = 0; half < 2; ++half) {
    Tape tape;
    const Var loss = mse_loss(linear(slice(x, 0, 2 * half, 2 * half + 2), w), slice(y, 0, 2 * half, 2 * half + 2));
    tape.backward(scale(loss, 0.5f));
  }
  EXPECT_NEAR(w.grad().data_as<float>()[0], full[0], 1e-6);
  EXPECT_NEAR(w.grad().data_as<float>()[1], full[1], 1e-6);
}

}  // namespace
}  // namespace tf::train
