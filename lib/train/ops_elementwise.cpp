// Elementwise ops: broadcasting binary arithmetic, scalar arithmetic,
// activations and dropout. Each op's derivative is written next to its value.
#include <cmath>
#include <numbers>
#include <vector>

#include "tf/error.h"
#include "tf/thread_pool.h"
#include "tf/train_ops.h"

namespace tf::train {

namespace {

// Elementwise loops over large arrays are split across the default pool;
// small ones stay on the caller (a hand-off costs more than it saves).
constexpr size_t kGrain = size_t(1) << 15;

template <class Fn>
void parallel_elements(int64_t n, Fn&& fn) {
  if (n < int64_t(2 * kGrain)) {
    fn(int64_t(0), n);
    return;
  }
  default_pool().parallel_for(size_t(n), kGrain, [&](size_t b, size_t e, int) { fn(int64_t(b), int64_t(e)); });
}

// How each output element of a broadcast maps to an element of a and of b.
struct Broadcast {
  Shape out;
  std::vector<int64_t> stride_a, stride_b;  // in elements, per output dim; 0 where broadcast
  bool same = false;                        // a, b and out all have one shape

  Broadcast(const Shape& a, const Shape& b, const char* op) {
    same = a == b;
    const size_t n = std::max(a.size(), b.size());
    out.assign(n, 1);
    stride_a.assign(n, 0);
    stride_b.assign(n, 0);
    int64_t sa = 1, sb = 1;
    for (size_t i = n; i-- > 0;) {
      const size_t off_a = n - a.size(), off_b = n - b.size();
      const int64_t da = i >= off_a ? a[i - off_a] : 1, db = i >= off_b ? b[i - off_b] : 1;
      if (da != db && da != 1 && db != 1)
        fail(op, ": shapes ", shape_string(a), " and ", shape_string(b), " do not broadcast");
      out[i] = da == 1 ? db : da;
      stride_a[i] = da == 1 ? 0 : sa;
      stride_b[i] = db == 1 ? 0 : sb;
      sa *= da;
      sb *= db;
    }
  }

  // fn(i_out, i_a, i_b) for every output element, in order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    int64_t total = 1;
    for (int64_t d : out) total *= d;
    if (same) {
      for (int64_t i = 0; i < total; ++i) fn(i, i, i);
      return;
    }
    std::vector<int64_t> idx(out.size(), 0);
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < total; ++i) {
      fn(i, ia, ib);
      for (size_t d = out.size(); d-- > 0;) {  // odometer increment
        ia += stride_a[d];
        ib += stride_b[d];
        if (++idx[d] < out[d]) break;
        ia -= stride_a[d] * out[d];
        ib -= stride_b[d] * out[d];
        idx[d] = 0;
      }
    }
  }
};

// out = f(a, b); backward adds g·∂f/∂a and g·∂f/∂b, reduced over broadcast dims.
template <class F, class DA, class DB>
Var binary(const Var& a, const Var& b, const char* name, F f, DA dfa, DB dfb) {
  Broadcast bc(a.shape(), b.shape(), name);
  Var out = Var::zeros(bc.out);
  const float *pa = a.data(), *pb = b.data();
  float* po = out.mutable_data();
  if (bc.same)
    parallel_elements(out.numel(), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) po[i] = f(pa[i], pb[i]);
    });
  else
    bc.for_each([&](int64_t i, int64_t ia, int64_t ib) { po[i] = f(pa[ia], pb[ib]); });
  if (Tape::should_record({&a, &b})) {
    Tape::active()->record(out, [a, b, bc, dfa, dfb](const Tensor& g) {
      Var ga = a, gb = b;
      const float *pa = a.data(), *pb = b.data(), *pg = g.data_as<float>();
      // Broadcast operands receive many contributions per element, so only
      // the same-shape case is split across threads.
      if (ga.requires_grad()) {
        float* d = ga.grad_buffer();
        if (bc.same)
          parallel_elements(a.numel(), [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) d[i] += pg[i] * dfa(pa[i], pb[i]);
          });
        else
          bc.for_each([&](int64_t i, int64_t ia, int64_t ib) { d[ia] += pg[i] * dfa(pa[ia], pb[ib]); });
      }
      if (gb.requires_grad()) {
        float* d = gb.grad_buffer();
        if (bc.same)
          parallel_elements(b.numel(), [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) d[i] += pg[i] * dfb(pa[i], pb[i]);
          });
        else
          bc.for_each([&](int64_t i, int64_t ia, int64_t ib) { d[ib] += pg[i] * dfb(pa[ia], pb[ib]); });
      }
    });
  }
  return out;
}

// y = f(x); backward adds g·df(x, y).
template <class F, class DF>
Var unary(const Var& x, F f, DF df) {
  Var out = Var::zeros(x.shape());
  const float* px = x.data();
  float* py = out.mutable_data();
  const int64_t n = x.numel();
  parallel_elements(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) py[i] = f(px[i]);
  });
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, out_value = out.value(), df, n](const Tensor& g) {
      Var gx = x;
      const float *px = x.data(), *py = out_value.data_as<float>(), *pg = g.data_as<float>();
      float* d = gx.grad_buffer();
      parallel_elements(n, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) d[i] += pg[i] * df(px[i], py[i]);
      });
    });
  }
  return out;
}

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;  // 1/√(2π)
constexpr float kSqrt2OverPi = 0.79788456080286536f;

float sigmoid_of(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

Var add(const Var& a, const Var& b) {
  return binary(
      a, b, "add", [](float x, float y) { return x + y; }, [](float, float) { return 1.0f; },
      [](float, float) { return 1.0f; });
}

Var sub(const Var& a, const Var& b) {
  return binary(
      a, b, "sub", [](float x, float y) { return x - y; }, [](float, float) { return 1.0f; },
      [](float, float) { return -1.0f; });
}

Var mul(const Var& a, const Var& b) {
  return binary(
      a, b, "mul", [](float x, float y) { return x * y; }, [](float, float y) { return y; },
      [](float x, float) { return x; });
}

Var div(const Var& a, const Var& b) {
  return binary(
      a, b, "div", [](float x, float y) { return x / y; }, [](float, float y) { return 1.0f / y; },
      [](float x, float y) { return -x / (y * y); });
}

Var scale(const Var& x, float s) {
  return unary(x, [s](float v) { return v * s; }, [s](float, float) { return s; });
}

Var add_scalar(const Var& x, float s) {
  return unary(x, [s](float v) { return v + s; }, [](float, float) { return 1.0f; });
}

Var neg(const Var& x) { return scale(x, -1.0f); }

Var square(const Var& x) {
  return unary(x, [](float v) { return v * v; }, [](float v, float) { return 2.0f * v; });
}

Var exp(const Var& x) {
  return unary(x, [](float v) { return std::exp(v); }, [](float, float y) { return y; });
}

Var log(const Var& x) {
  return unary(x, [](float v) { return std::log(v); }, [](float v, float) { return 1.0f / v; });
}

Var relu(const Var& x) {
  return unary(x, [](float v) { return v > 0 ? v : 0.0f; }, [](float v, float) { return v > 0 ? 1.0f : 0.0f; });
}

Var gelu(const Var& x) {
  // d/dx x·Φ(x) = Φ(x) + x·φ(x)
  return unary(
      x, [](float v) { return 0.5f * v * (1.0f + std::erf(v * kInvSqrt2)); },
      [](float v, float) {
        return 0.5f * (1.0f + std::erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * std::exp(-0.5f * v * v);
      });
}

Var gelu_tanh(const Var& x) {
  // The tanh of the forward pass is kept for the backward one (tanhf is most
  // of this op's cost).
  const int64_t n = x.numel();
  Var out = Var::zeros(x.shape());
  const bool record = Tape::should_record({&x});
  std::vector<float> t_saved(record ? size_t(n) : 0);
  {
    const float* px = x.data();
    float* py = out.mutable_data();
    float* pt = t_saved.data();
    parallel_elements(n, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const float v = px[i], t = std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v));
        py[i] = 0.5f * v * (1.0f + t);
        if (record) pt[i] = t;
      }
    });
  }
  if (record) {
    Tape::active()->record(out, [x, n, t_saved = std::move(t_saved)](const Tensor& g) {
      Var gx = x;
      const float *px = x.data(), *pg = g.data_as<float>(), *pt = t_saved.data();
      float* d = gx.grad_buffer();
      parallel_elements(n, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          const float v = px[i], t = pt[i];
          d[i] += pg[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * v * v));
        }
      });
    });
  }
  return out;
}

Var silu(const Var& x) {
  return unary(
      x, [](float v) { return v * sigmoid_of(v); },
      [](float v, float) {
        const float s = sigmoid_of(v);
        return s * (1.0f + v * (1.0f - s));
      });
}

Var tanh(const Var& x) {
  return unary(x, [](float v) { return std::tanh(v); }, [](float, float y) { return 1.0f - y * y; });
}

Var sigmoid(const Var& x) {
  return unary(x, [](float v) { return sigmoid_of(v); }, [](float, float y) { return y * (1.0f - y); });
}

Var dropout(const Var& x, float p, Rng& rng, bool training) {
  if (p < 0.0f || p >= 1.0f) fail("dropout: p must be in [0, 1), got ", p);
  if (!training || p == 0.0f) return x;
  // The mask (0 or 1/(1-p) per element) is both the forward multiplier and
  // the derivative.
  Var mask = Var::zeros(x.shape());
  float* m = mask.mutable_data();
  const float keep = 1.0f / (1.0f - p);
  for (int64_t i = 0; i < x.numel(); ++i) m[i] = rng.uniform() < p ? 0.0f : keep;
  return mul(x, mask);
}

}  // namespace tf::train
