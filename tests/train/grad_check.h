// Finite-difference gradient checking for tf::train ops: the analytic
// vector-Jacobian product of f at random inputs, against central differences
// of the same f computed without a tape.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "tf/autograd.h"
#include "tf/rng.h"

namespace tf::train::test {

inline Var random_var(Shape shape, uint64_t seed, float scale = 1.0f, float offset = 0.0f) {
  Var v = Var::zeros(std::move(shape), true);
  Rng rng(seed);
  for (int64_t i = 0; i < v.numel(); ++i) v.mutable_data()[i] = offset + scale * rng.normal();
  return v;
}

inline Shape random_shape(Rng& rng, int ndim, int64_t max_dim = 5) {
  Shape s;
  for (int i = 0; i < ndim; ++i) s.push_back(1 + int64_t(rng.below(uint64_t(max_dim))));
  return s;
}

struct GradCheckOptions {
  float h = 3e-3f;    // finite-difference step
  double atol = 1e-3;  // float32 central differences carry ~1e-4 of rounding noise here
  double rtol = 3e-3;
};

// Checks d<f(inputs), R>/d inputs for a fixed random R against central
// differences. Inputs must require a gradient.
inline void check_gradients(const std::function<Var(const std::vector<Var>&)>& f, std::vector<Var> inputs,
                            GradCheckOptions opt = {}, uint64_t seed = 7) {
  for (Var& v : inputs) v.zero_grad();
  Tensor seed_t;
  {
    Tape tape;
    const Var out = f(inputs);
    ASSERT_TRUE(out.requires_grad()) << "output not recorded";
    seed_t = Tensor::zeros(DType::F32, out.shape());
    Rng rng(seed);
    for (int64_t i = 0; i < out.numel(); ++i) seed_t.mutable_data_as<float>()[i] = rng.normal();
    tape.backward(out, seed_t);
  }
  const float* r = seed_t.data_as<float>();
  auto loss = [&] {
    const Var out = f(inputs);  // no tape: value only
    double s = 0;
    for (int64_t i = 0; i < out.numel(); ++i) s += double(out.data()[i]) * r[i];
    return s;
  };
  for (size_t k = 0; k < inputs.size(); ++k) {
    Var& x = inputs[k];
    ASSERT_TRUE(x.has_grad()) << "input " << k << " got no gradient";
    const float* g = x.grad().data_as<float>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      float* p = x.mutable_data() + i;
      const float saved = *p;
      *p = saved + opt.h;
      const double lp = loss();
      *p = saved - opt.h;
      const double lm = loss();
      *p = saved;
      const double numeric = (lp - lm) / (2.0 * double(opt.h));
      EXPECT_NEAR(g[i], numeric, opt.atol + opt.rtol * std::fabs(numeric))
          << "input " << k << " element " << i << " of " << shape_string(x.shape());
    }
  }
}

}  // namespace tf::train::test
