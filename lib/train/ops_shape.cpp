// Shape ops and embedding lookup. Outputs are always contiguous copies, so
// every Var stays a plain dense array.
#include <cstring>

#include "tf/error.h"
#include "tf/train_ops.h"

namespace tf::train {

namespace {
int wrap_dim(int dim, int nd, const char* op) {
  if (dim < 0) dim += nd;
  if (dim < 0 || dim >= nd) fail(op, ": dimension out of range");
  return dim;
}

// Copies the [outer, n_src, inner] block src into [outer, n_dst, inner] at
// offset `at` of the middle dimension (adding instead of copying with scatter_add).
void copy_middle(const float* src, int64_t n_src, float* dst, int64_t n_dst, int64_t at, int64_t outer,
                 int64_t inner, bool scatter_add) {
  for (int64_t o = 0; o < outer; ++o) {
    const float* s = src + o * n_src * inner;
    float* d = dst + (o * n_dst + at) * inner;
    if (scatter_add)
      for (int64_t i = 0; i < n_src * inner; ++i) d[i] += s[i];
    else
      std::memcpy(d, s, size_t(n_src * inner) * sizeof(float));
  }
}
}  // namespace

Var reshape(const Var& x, Shape shape) {
  Var out(x.value().reshape(std::move(shape)).clone());
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x](const Tensor& g) {
      Var gx = x;
      float* d = gx.grad_buffer();
      const float* pg = g.data_as<float>();
      for (int64_t i = 0; i < x.numel(); ++i) d[i] += pg[i];
    });
  }
  return out;
}

Var transpose(const Var& x, int d0, int d1) {
  d0 = wrap_dim(d0, x.ndim(), "transpose");
  d1 = wrap_dim(d1, x.ndim(), "transpose");
  Var out(x.value().transpose(d0, d1).contiguous());
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, d0, d1](const Tensor& g) {
      Var gx = x;
      const Tensor back = g.transpose(d0, d1).contiguous();
      float* d = gx.grad_buffer();
      const float* pb = back.data_as<float>();
      for (int64_t i = 0; i < x.numel(); ++i) d[i] += pb[i];
    });
  }
  return out;
}

Var slice(const Var& x, int dim, int64_t begin, int64_t end) {
  dim = wrap_dim(dim, x.ndim(), "slice");
  if (begin < 0 || end < begin || end > x.dim(dim))
    fail("slice: [", begin, ", ", end, ") out of range for dimension ", dim, " of ", shape_string(x.shape()));
  Var out(x.value().slice(dim, begin, end).contiguous());
  if (Tape::should_record({&x})) {
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < dim; ++i) outer *= x.dim(i);
    for (int i = dim + 1; i < x.ndim(); ++i) inner *= x.dim(i);
    Tape::active()->record(out, [x, dim, begin, end, outer, inner](const Tensor& g) {
      Var gx = x;
      copy_middle(g.data_as<float>(), end - begin, gx.grad_buffer(), x.dim(dim), begin, outer, inner, true);
    });
  }
  return out;
}

Var concat(const std::vector<Var>& xs, int dim) {
  if (xs.empty()) fail("concat: no inputs");
  dim = wrap_dim(dim, xs[0].ndim(), "concat");
  Shape shape = xs[0].shape();
  shape[size_t(dim)] = 0;
  for (const Var& x : xs) {
    Shape s = x.shape();
    if (s.size() != shape.size()) fail("concat: inputs differ in rank");
    const int64_t n = s[size_t(dim)];
    s[size_t(dim)] = shape[size_t(dim)];
    if (s != shape) fail("concat: shape ", shape_string(x.shape()), " does not match ", shape_string(xs[0].shape()));
    shape[size_t(dim)] += n;
  }
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < dim; ++i) outer *= shape[size_t(i)];
  for (size_t i = size_t(dim) + 1; i < shape.size(); ++i) inner *= shape[i];
  Var out = Var::zeros(shape);
  int64_t at = 0;
  for (const Var& x : xs) {
    copy_middle(x.data(), x.dim(dim), out.mutable_data(), shape[size_t(dim)], at, outer, inner, false);
    at += x.dim(dim);
  }
  bool record = false;
  for (const Var& x : xs) record = record || Tape::should_record({&x});
  if (record) {
    Tape::active()->record(out, [xs, dim, outer, inner, total = shape[size_t(dim)]](const Tensor& g) {
      int64_t at = 0;
      for (Var x : xs) {
        const int64_t n = x.dim(dim);
        if (x.requires_grad()) {
          float* d = x.grad_buffer();
          const float* pg = g.data_as<float>();
          for (int64_t o = 0; o < outer; ++o)
            for (int64_t i = 0; i < n * inner; ++i) d[o * n * inner + i] += pg[(o * total + at) * inner + i];
        }
        at += n;
      }
    });
  }
  return out;
}

Var embedding(const Var& table, const std::vector<int32_t>& ids) {
  if (table.ndim() != 2) fail("embedding: table must be [V, D], got ", shape_string(table.shape()));
  const int64_t V = table.dim(0), D = table.dim(1);
  Var out = Var::zeros({int64_t(ids.size()), D});
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= V) fail("embedding: id ", ids[i], " outside a vocabulary of ", V);
    std::memcpy(out.mutable_data() + int64_t(i) * D, table.data() + int64_t(ids[i]) * D, size_t(D) * sizeof(float));
  }
  if (Tape::should_record({&table})) {
    Tape::active()->record(out, [table, ids, D](const Tensor& g) {
      Var gt = table;
      float* d = gt.grad_buffer();
      const float* pg = g.data_as<float>();
      for (size_t i = 0; i < ids.size(); ++i)
        for (int64_t j = 0; j < D; ++j) d[int64_t(ids[i]) * D + j] += pg[int64_t(i) * D + j];
    });
  }
  return out;
}

}  // namespace tf::train
