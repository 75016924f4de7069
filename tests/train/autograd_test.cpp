// The tape: recording only inside a training scope, accumulation, NoGrad.
#include <gtest/gtest.h>

#include "tf/error.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

TEST(Autograd, NothingIsRecordedWithoutATape) {
  Var w = Var::parameter(Tensor::zeros(DType::F32, {2, 2}));
  const Var y = mul(w, w);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(Tape::active(), nullptr);
}

TEST(Autograd, ConstantsAreNotRecorded) {
  Tape tape;
  const Var y = add(Var::zeros({3}), Var::zeros({3}));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(tape.size(), 0u);
}

TEST(Autograd, ChainRuleAndAccumulation) {
  // y = sum(w·w + w) -> dy/dw = 2w + 1; a second backward adds the same again.
  Var w = Var::parameter(Tensor::zeros(DType::F32, {3}));
  for (int i = 0; i < 3; ++i) w.mutable_data()[i] = float(i);
  for (int pass = 1; pass <= 2; ++pass) {
    Tape tape;
    const Var y = sum(add(mul(w, w), w));
    EXPECT_EQ(tape.size(), 3u);
    tape.backward(y);
    for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(w.grad().data_as<float>()[i], float(pass) * (2.0f * float(i) + 1.0f));
  }
  w.zero_grad();
  EXPECT_FALSE(w.has_grad());
}

TEST(Autograd, NoGradPausesRecording) {
  Var w = Var::parameter(Tensor::zeros(DType::F32, {2}));
  Tape tape;
  {
    NoGrad pause;
    EXPECT_FALSE(square(w).requires_grad());
  }
  EXPECT_TRUE(square(w).requires_grad());
}

TEST(Autograd, BackwardNeedsAScalarRoot) {
  Var w = Var::parameter(Tensor::zeros(DType::F32, {2}));
  Tape tape;
  const Var y = square(w);
  EXPECT_THROW(tape.backward(y), Error);
  EXPECT_THROW(tape.backward(Var::scalar(1.0f)), Error);
}

TEST(Autograd, BranchesThatDoNotReachTheRootAreSkipped) {
  Var a = Var::parameter(Tensor::zeros(DType::F32, {2})), b = Var::parameter(Tensor::zeros(DType::F32, {2}));
  Tape tape;
  const Var unused = square(b);
  tape.backward(sum(a));
  EXPECT_TRUE(a.has_grad());
  EXPECT_FALSE(b.has_grad());
}

TEST(Autograd, OneBackwardPerTape) {
  Var w = Var::parameter(Tensor::zeros(DType::F32, {2}));
  Tape tape;
  const Var y = sum(square(w));
  tape.backward(y);
  EXPECT_EQ(tape.size(), 0u);  // the graph is freed
  EXPECT_THROW(tape.backward(y), Error);
}

TEST(Autograd, ParameterSharesTheCallersTensor) {
  // A trained parameter is the library's own Tensor: updates are visible
  // through the tensor the caller passed in, with no copy back.
  Tensor t = Tensor::zeros(DType::F32, {3});
  Var p = Var::parameter(t, "w");
  p.mutable_data()[1] = 2.5f;
  EXPECT_EQ(t.data_as<float>()[1], 2.5f);
  EXPECT_EQ(p.name(), "w");
}

TEST(Autograd, ValuesMustBeF32) {
  EXPECT_THROW(Var(Tensor::zeros(DType::F16, {2})), Error);
}

}  // namespace
}  // namespace tf::train
