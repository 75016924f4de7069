// End to end: a 2-layer MLP learns XOR-of-signs quadrants (not linearly
// separable, so the hidden layer has to work) with AdamW, warm-up + cosine
// schedule and clipping.
#include <gtest/gtest.h>

#include <cmath>

#include "tf/optim.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

Var init(Shape shape, Rng& rng, float std, const char* name) {
  Var v = Var::zeros(std::move(shape));
  for (int64_t i = 0; i < v.numel(); ++i) v.mutable_data()[i] = std * rng.normal();
  return Var::parameter(v.value(), name);
}

TEST(TrainEndToEnd, MlpSeparatesQuadrants) {
  Rng rng(42);
  const int64_t n = 256, hidden = 32;
  Var x = Var::zeros({n, 2});
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float a, b;
    do {  // a margin around the axes keeps the classes separable
      a = 2.0f * rng.uniform() - 1.0f;
      b = 2.0f * rng.uniform() - 1.0f;
    } while (std::fabs(a) < 0.1f || std::fabs(b) < 0.1f);
    x.mutable_data()[2 * i] = a;
    x.mutable_data()[2 * i + 1] = b;
    labels[size_t(i)] = (a > 0) == (b > 0) ? 1 : 0;
  }
  Var w1 = init({hidden, 2}, rng, 0.7f, "w1"), b1 = init({hidden}, rng, 0.0f, "b1");
  Var w2 = init({2, hidden}, rng, 0.2f, "w2"), b2 = init({2}, rng, 0.0f, "b2");
  Adam opt(decay_groups({w1, b1, w2, b2}), adamw_options(0.03f, 0.01f));
  const LrSchedule schedule{.base_lr = 0.03f, .min_lr = 0.001f, .warmup_steps = 20, .total_steps = 400,
                            .decay = LrSchedule::Decay::Cosine};
  auto forward = [&] { return linear(gelu(linear(x, w1, b1)), w2, b2); };
  float first_loss = 0, last_loss = 0;
  for (int64_t step = 0; step < 400; ++step) {
    Tape tape;
    const Var loss = cross_entropy(forward(), labels);
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
    opt.zero_grad();
    tape.backward(loss);
    clip_grad_norm(all_params(opt.groups()), 5.0);
    opt.set_lr(schedule.at(step));
    opt.step();
  }
  EXPECT_GT(first_loss, 0.6f);
  EXPECT_LT(last_loss, 0.08f);
  const Var logits = forward();  // no tape: inference records nothing
  EXPECT_FALSE(logits.requires_grad());
  int correct = 0;
  for (int64_t i = 0; i < n; ++i)
    correct += (logits.data()[2 * i + 1] > logits.data()[2 * i]) == (labels[size_t(i)] == 1);
  EXPECT_GE(correct, int(n) - 2);
}

}  // namespace
}  // namespace tf::train
