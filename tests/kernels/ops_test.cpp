// Row / element-wise kernels of every ISA level against double-precision
// formulas, on awkward sizes (tails of every length, sizes below one vector).
// Tolerances: a few f32 ulp relative, plus the 1.5e-7 absolute error of the
// erf approximation that torch's vectorised GELU uses (kept on purpose).
#include "kernels/cpu/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/cpu/ops_impl.h"
#include "kernels/test_util.h"
#include "tf/thread_pool.h"

namespace tf::kernels {
namespace {

using test::isa_levels;
using test::level_name;

const size_t kSizes[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1000, 4099};

double act_ref(Activation a, double x) {
  switch (a) {
    case Activation::Silu: return x / (1 + std::exp(-x));
    case Activation::Gelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Activation::GeluTanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case Activation::Relu: return x > 0 ? x : 0;
  }
  return 0;
}

bool gelu_like(Activation a) { return a == Activation::Gelu || a == Activation::GeluTanh; }

// |got - want| <= rel·|want| + abs
#define EXPECT_CLOSE(got, want, rel, abs_tol) EXPECT_NEAR(got, want, (rel) * std::abs(want) + (abs_tol))

TEST(Ops, RmsNorm) {
  for (int level : isa_levels()) {
    const auto& t = ops::ops_table(level);
    for (size_t dim : kSizes)
      for (int variant = 0; variant < 3; ++variant) {
        const size_t rows = 3;
        auto x = test::random_floats(rows * dim, dim, 2.0f);
        auto w = test::random_floats(dim, dim + 1);
        std::vector<float> y(rows * dim);
        const bool one_plus = variant == 2;
        t.rms_norm(x.data(), variant == 0 ? nullptr : w.data(), y.data(), rows, dim, 1e-5f, one_plus);
        for (size_t r = 0; r < rows; ++r) {
          double ss = 0;
          for (size_t i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i];
          const double inv = 1 / std::sqrt(ss / dim + 1e-5);
          for (size_t i = 0; i < dim; ++i) {
            double g = variant == 0 ? 1.0 : one_plus ? 1.0 + w[i] : w[i];
            EXPECT_CLOSE(y[r * dim + i], x[r * dim + i] * inv * g, 1e-6, 1e-7) << level_name(level) << " dim " << dim;
          }
        }
      }
  }
}

TEST(Ops, RmsNormInPlace) {
  for (int level : isa_levels()) {
    auto x = test::random_floats(2 * 37, 1);
    auto w = test::random_floats(37, 2);
    auto y = x;
    ops::ops_table(0).rms_norm(x.data(), w.data(), y.data(), 2, 37, 1e-6f, false);
    ops::ops_table(level).rms_norm(x.data(), w.data(), x.data(), 2, 37, 1e-6f, false);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_CLOSE(x[i], y[i], 1e-6, 1e-7);
  }
}

TEST(Ops, LayerNorm) {
  for (int level : isa_levels()) {
    const auto& t = ops::ops_table(level);
    for (size_t dim : kSizes)
      for (int variant = 0; variant < 3; ++variant) {
        const size_t rows = 2;
        auto x = test::random_floats(rows * dim, dim);
        for (float& v : x) v += 3.0f;  // an offset mean, as real activations have
        auto w = test::random_floats(dim, 5), b = test::random_floats(dim, 6);
        std::vector<float> y(rows * dim);
        const float* wp = variant >= 1 ? w.data() : nullptr;
        const float* bp = variant == 2 ? b.data() : nullptr;
        t.layer_norm(x.data(), wp, bp, y.data(), rows, dim, 1e-5f);
        for (size_t r = 0; r < rows; ++r) {
          double mean = 0, var = 0;
          for (size_t i = 0; i < dim; ++i) mean += x[r * dim + i];
          mean /= dim;
          for (size_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
          const double rstd = 1 / std::sqrt(var / dim + 1e-5);
          for (size_t i = 0; i < dim; ++i) {
            double want = (x[r * dim + i] - mean) * rstd * (wp ? w[i] : 1.0) + (bp ? b[i] : 0.0);
            EXPECT_CLOSE(y[r * dim + i], want, 2e-6, 2e-6) << level_name(level) << " dim " << dim;
          }
        }
      }
  }
}

TEST(Ops, AddMulScale) {
  for (int level : isa_levels()) {
    const auto& t = ops::ops_table(level);
    for (size_t n : kSizes) {
      auto a = test::random_floats(n, 1), b = test::random_floats(n, 2);
      std::vector<float> y(n + 1, 42.0f);
      t.add(a.data(), b.data(), y.data(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(y[i], a[i] + b[i]);
      EXPECT_EQ(y[n], 42.0f) << "wrote past n";
      t.mul(a.data(), b.data(), y.data(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(y[i], a[i] * b[i]);
      t.scale(a.data(), 0.37f, y.data(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(y[i], a[i] * 0.37f);
      EXPECT_EQ(y[n], 42.0f);
    }
  }
}

std::vector<float> activation_inputs(size_t n, uint64_t seed) {
  auto x = test::random_uniform(n, seed, -12.0f, 12.0f);
  // edges: zero, tiny, the tanh branch switch, exp's clamps, huge values
  const float edges[] = {0.0f, -0.0f, 1e-20f, -1e-8f, 0.3125f, -0.3125f, 0.625f, 2.5f, -5.0f, 88.0f, -88.0f, 120.0f, -120.0f};
  for (size_t i = 0; i < n && i < std::size(edges); ++i) x[i] = edges[i];
  return x;
}

TEST(Ops, Activations) {
  for (int level : isa_levels()) {
    const auto& t = ops::ops_table(level);
    for (Activation a : {Activation::Silu, Activation::Gelu, Activation::GeluTanh, Activation::Relu})
      for (size_t n : kSizes) {
        auto x = activation_inputs(n, n);
        std::vector<float> y(n + 1, 42.0f);
        t.activation(a, x.data(), y.data(), n);
        for (size_t i = 0; i < n; ++i) {
          // GELU's 1 + erf (or tanh) cancels for x < 0: f32 keeps it to ~1e-7
          // absolute (torch computes the same way), which 0.5·|x| scales.
          const double abs_tol = (gelu_like(a) ? 1e-7 * std::abs(x[i]) : 0.0) + 1e-30;
          EXPECT_CLOSE(y[i], act_ref(a, x[i]), 4e-7, abs_tol) << level_name(level) << " act " << int(a) << " x=" << x[i];
        }
        EXPECT_EQ(y[n], 42.0f);
      }
  }
}

TEST(Ops, GatedUnits) {
  for (int level : isa_levels()) {
    const auto& t = ops::ops_table(level);
    for (Activation a : {Activation::Silu, Activation::Gelu, Activation::GeluTanh})
      for (size_t n : kSizes) {
        auto g = activation_inputs(n, n + 1);
        auto u = test::random_floats(n, n + 2);
        std::vector<float> y(n);
        t.glu(a, g.data(), u.data(), y.data(), n);
        for (size_t i = 0; i < n; ++i) {
          const double abs_tol = (gelu_like(a) ? 1e-7 * std::abs(g[i] * u[i]) : 0.0) + 1e-30;
          EXPECT_CLOSE(y[i], act_ref(a, g[i]) * u[i], 6e-7, abs_tol) << level_name(level) << " x=" << g[i];
        }
      }
  }
}

TEST(Ops, SoftCap) {
  for (int level : isa_levels())
    for (size_t n : kSizes) {
      auto x = test::random_uniform(n, n, -200.0f, 200.0f);
      std::vector<float> y(n);
      ops::ops_table(level).soft_cap(x.data(), y.data(), n, 30.0f);
      for (size_t i = 0; i < n; ++i) EXPECT_CLOSE(y[i], 30.0 * std::tanh(x[i] / 30.0), 4e-7, 1e-30) << x[i];
    }
}

TEST(Ops, Softmax) {
  for (int level : isa_levels()) {
    const auto& t = ops::ops_table(level);
    for (size_t cols : kSizes)
      for (auto [scale, cap] : {std::pair{1.0f, 0.0f}, std::pair{0.125f, 0.0f}, std::pair{1.0f, 50.0f}}) {
        const size_t rows = 3;
        auto x = test::random_floats(rows * cols, cols, 20.0f);
        if (cols > 4) x[2] = -std::numeric_limits<float>::infinity();  // a masked entry
        std::vector<float> y(rows * cols);
        t.softmax(x.data(), y.data(), rows, cols, scale, cap);
        for (size_t r = 0; r < rows; ++r) {
          std::vector<double> z(cols);
          double mx = -INFINITY, sum = 0;
          for (size_t i = 0; i < cols; ++i) {
            z[i] = double(x[r * cols + i]) * scale;
            if (cap > 0) z[i] = cap * std::tanh(z[i] / cap);
            mx = std::max(mx, z[i]);
          }
          for (size_t i = 0; i < cols; ++i) sum += std::exp(z[i] - mx);
          // z itself is rounded to f32 (and scale·x, tanh before it): e^z then
          // carries a relative error of a few ulp of |z|.
          double zmax = 0;
          for (double v : z)
            if (std::isfinite(v)) zmax = std::max(zmax, std::abs(v));
          for (size_t i = 0; i < cols; ++i)
            EXPECT_CLOSE(y[r * cols + i], std::exp(z[i] - mx) / sum, 1e-6 + 4e-7 * zmax, 1e-12)
                << level_name(level) << " cols " << cols << " scale " << scale << " cap " << cap;
        }
      }
  }
}

TEST(Ops, SoftmaxAllMaskedRowIsZero) {
  for (int level : isa_levels()) {
    std::vector<float> x(19, -std::numeric_limits<float>::infinity()), y(19, 1.0f);
    ops::ops_table(level).softmax(x.data(), y.data(), 1, 19, 1.0f, 0.0f);
    for (float v : y) EXPECT_EQ(v, 0.0f);
  }
}

TEST(Ops, Argmax) {
  for (int level : isa_levels()) {
    const auto& t = ops::ops_table(level);
    for (size_t n : kSizes) {
      auto x = test::random_floats(n, n);
      size_t want = 0;
      for (size_t i = 1; i < n; ++i)
        if (x[i] > x[want]) want = i;
      EXPECT_EQ(t.argmax(x.data(), n), want) << level_name(level) << " n " << n;
      if (n > 5) {
        x[n - 1] = x[1] = 100.0f;  // ties: the first wins
        x[0] = std::numeric_limits<float>::quiet_NaN();
        EXPECT_EQ(t.argmax(x.data(), n), 1u);
      }
    }
    std::vector<float> neg(5, -std::numeric_limits<float>::infinity());
    EXPECT_EQ(t.argmax(neg.data(), 5), 0u);
  }
}

TEST(Ops, ThreadedMatchesSingle) {
  ThreadPool pool(3);
  const size_t rows = 64, dim = 2048, n = rows * dim;
  auto x = test::random_floats(n, 1), w = test::random_floats(dim, 2), u = test::random_floats(n, 3);
  std::vector<float> a(n), b(n);
  rms_norm(x.data(), w.data(), a.data(), rows, dim, 1e-5f);
  rms_norm(x.data(), w.data(), b.data(), rows, dim, 1e-5f, false, &pool);
  EXPECT_EQ(a, b);
  swiglu(x.data(), u.data(), a.data(), n);
  swiglu(x.data(), u.data(), b.data(), n, &pool);
  EXPECT_EQ(a, b);
  softmax(x.data(), a.data(), rows, dim, 0.5f);
  softmax(x.data(), b.data(), rows, dim, 0.5f, 0.0f, &pool);
  EXPECT_EQ(a, b);
  EXPECT_EQ(argmax(x.data(), n), ops::ops_table(0).argmax(x.data(), n));
}

}  // namespace
}  // namespace tf::kernels
