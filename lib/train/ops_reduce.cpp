// Reductions. A reduction over one dimension views x as [outer, n, inner].
#include <limits>

#include "tf/error.h"
#include "tf/train_ops.h"

namespace tf::train {

namespace {

struct Split {
  int64_t outer = 1, n = 1, inner = 1;
  Shape out;
};

Split split_at(const Var& x, int dim, bool keepdim, const char* op) {
  const int nd = x.ndim();
  if (dim < 0) dim += nd;
  if (dim < 0 || dim >= nd) fail(op, ": dimension out of range for shape ", shape_string(x.shape()));
  Split s;
  for (int i = 0; i < nd; ++i) {
    if (i < dim) s.outer *= x.dim(i);
    if (i > dim) s.inner *= x.dim(i);
    if (i != dim)
      s.out.push_back(x.dim(i));
    else if (keepdim)
      s.out.push_back(1);
  }
  s.n = x.dim(dim);
  return s;
}

// out = scale · Σ over dim; the gradient is scale · g broadcast back.
Var scaled_sum(const Var& x, int dim, bool keepdim, bool average, const char* op) {
  const Split s = split_at(x, dim, keepdim, op);
  const float k = average ? 1.0f / float(s.n) : 1.0f;
  Var out = Var::zeros(s.out);
  const float* px = x.data();
  float* po = out.mutable_data();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t j = 0; j < s.n; ++j)
      for (int64_t i = 0; i < s.inner; ++i) po[o * s.inner + i] += px[(o * s.n + j) * s.inner + i];
  for (int64_t i = 0; i < out.numel(); ++i) po[i] *= k;
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, s, k](const Tensor& g) {
      Var gx = x;
      float* d = gx.grad_buffer();
      const float* pg = g.data_as<float>();
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t j = 0; j < s.n; ++j)
          for (int64_t i = 0; i < s.inner; ++i) d[(o * s.n + j) * s.inner + i] += k * pg[o * s.inner + i];
    });
  }
  return out;
}

Var reduce_all(const Var& x, bool average) {
  // Accumulate in double: a loss summed over a large batch in f32 loses digits.
  double acc = 0;
  const float* px = x.data();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) acc += px[i];
  const float k = average ? 1.0f / float(n) : 1.0f;
  Var out = Var::scalar(float(acc) * k);
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, k, n](const Tensor& g) {
      Var gx = x;
      float* d = gx.grad_buffer();
      const float v = k * g.data_as<float>()[0];
      for (int64_t i = 0; i < n; ++i) d[i] += v;
    });
  }
  return out;
}

}  // namespace

Var sum(const Var& x) { return reduce_all(x, false); }
Var mean(const Var& x) { return reduce_all(x, true); }
Var sum(const Var& x, int dim, bool keepdim) { return scaled_sum(x, dim, keepdim, false, "sum"); }
Var mean(const Var& x, int dim, bool keepdim) { return scaled_sum(x, dim, keepdim, true, "mean"); }

Var max(const Var& x, int dim, bool keepdim) {
  const Split s = split_at(x, dim, keepdim, "max");
  if (s.n == 0) fail("max: reduction over an empty dimension");
  Var out = Var::zeros(s.out);
  std::vector<int64_t> arg(size_t(s.outer * s.inner), 0);
  const float* px = x.data();
  float* po = out.mutable_data();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      float best = -std::numeric_limits<float>::infinity();
      int64_t at = 0;
      for (int64_t j = 0; j < s.n; ++j) {
        const float v = px[(o * s.n + j) * s.inner + i];
        if (v > best) best = v, at = j;
      }
      po[o * s.inner + i] = best;
      arg[size_t(o * s.inner + i)] = at;
    }
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, s, arg = std::move(arg)](const Tensor& g) {
      Var gx = x;
      float* d = gx.grad_buffer();
      const float* pg = g.data_as<float>();
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t i = 0; i < s.inner; ++i)
          d[(o * s.n + arg[size_t(o * s.inner + i)]) * s.inner + i] += pg[o * s.inner + i];
    });
  }
  return out;
}

}  // namespace tf::train
