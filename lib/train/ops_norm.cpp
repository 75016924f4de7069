// LayerNorm and RMSNorm over the last dimension, with the row statistics
// saved by the forward pass for the backward one.
#include <algorithm>
#include <cmath>

#include "tf/error.h"
#include "tf/thread_pool.h"
#include "tf/train_ops.h"

namespace tf::train {

namespace {

// fn(r) for every row, rows split across the default pool when there is
// enough work to pay for the hand-off.
template <class Fn>
void for_rows(int64_t rows, int64_t dim, Fn&& fn) {
  if (rows * dim < (int64_t(1) << 15)) {
    for (int64_t r = 0; r < rows; ++r) fn(r);
    return;
  }
  default_pool().parallel_for(size_t(rows), size_t(std::max<int64_t>(1, 4096 / std::max<int64_t>(dim, 1))),
                              [&](size_t lo, size_t hi, int) {
                                for (size_t r = lo; r < hi; ++r) fn(int64_t(r));
                              });
}

void check_affine(const Var& x, const Var& p, const char* op, const char* what) {
  if (p.defined() && (p.ndim() != 1 || p.dim(0) != x.dim(-1)))
    fail(op, ": ", what, " ", shape_string(p.shape()), " for input ", shape_string(x.shape()));
}
}  // namespace

Var layer_norm(const Var& x, const Var& weight, const Var& bias, float eps) {
  if (x.ndim() < 1) fail("layer_norm: scalar input");
  check_affine(x, weight, "layer_norm", "weight");
  check_affine(x, bias, "layer_norm", "bias");
  const int64_t D = x.dim(-1), rows = D ? x.numel() / D : 0;
  Var out = Var::zeros(x.shape());
  std::vector<float> mean(static_cast<size_t>(rows)), rstd(static_cast<size_t>(rows));
  const float* w = weight.defined() ? weight.data() : nullptr;
  const float* b = bias.defined() ? bias.data() : nullptr;
  float* y = out.mutable_data();
  for_rows(rows, D, [&](int64_t r) {
    const float* xr = x.data() + r * D;
    float* yr = y + r * D;
    double s = 0, ss = 0;
    for (int64_t i = 0; i < D; ++i) s += xr[i];
    const double mu = s / double(D);
    for (int64_t i = 0; i < D; ++i) ss += (xr[i] - mu) * (xr[i] - mu);
    const float rs = float(1.0 / std::sqrt(ss / double(D) + double(eps)));
    mean[size_t(r)] = float(mu);
    rstd[size_t(r)] = rs;
    for (int64_t i = 0; i < D; ++i) {
      const float xhat = (xr[i] - float(mu)) * rs;
      yr[i] = xhat * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
  });
  if (Tape::should_record({&x, &weight, &bias})) {
    Tape::active()->record(out, [x, weight, bias, mean = std::move(mean), rstd = std::move(rstd), D, rows](const Tensor& g) {
      Var gx = x, gw = weight, gb = bias;
      const float* w = weight.defined() ? weight.data() : nullptr;
      float* dx = gx.requires_grad() ? gx.grad_buffer() : nullptr;
      float* dw = gw.requires_grad() ? gw.grad_buffer() : nullptr;
      float* db = gb.requires_grad() ? gb.grad_buffer() : nullptr;
      const float* gd = g.data_as<float>();
      auto xhat = [&](int64_t r, int64_t i) { return (x.data()[r * D + i] - mean[size_t(r)]) * rstd[size_t(r)]; };
      // dw, db: sums over rows, split by column so that threads never share one.
      if (dw || db)
        default_pool().parallel_for(size_t(D), 16, [&](size_t lo, size_t hi, int) {
          for (int64_t r = 0; r < rows; ++r)
            for (size_t i = lo; i < hi; ++i) {
              if (dw) dw[i] += gd[r * D + int64_t(i)] * xhat(r, int64_t(i));
              if (db) db[i] += gd[r * D + int64_t(i)];
            }
        });
      if (!dx) return;
      for_rows(rows, D, [&](int64_t r) {
        const float* gr = gd + r * D;
        // dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = g·w
        double m1 = 0, m2 = 0;
        for (int64_t i = 0; i < D; ++i) {
          const float dxh = gr[i] * (w ? w[i] : 1.0f);
          m1 += dxh;
          m2 += dxh * xhat(r, i);
        }
        const float a = float(m1 / double(D)), c = float(m2 / double(D)), rs = rstd[size_t(r)];
        for (int64_t i = 0; i < D; ++i) dx[r * D + i] += rs * (gr[i] * (w ? w[i] : 1.0f) - a - xhat(r, i) * c);
      });
    });
  }
  return out;
}

Var rms_norm(const Var& x, const Var& weight, float eps) {
  if (x.ndim() < 1) fail("rms_norm: scalar input");
  check_affine(x, weight, "rms_norm", "weight");
  const int64_t D = x.dim(-1), rows = D ? x.numel() / D : 0;
  Var out = Var::zeros(x.shape());
  std::vector<float> rstd(static_cast<size_t>(rows));
  const float* w = weight.defined() ? weight.data() : nullptr;
  float* y = out.mutable_data();
  for_rows(rows, D, [&](int64_t r) {
    const float* xr = x.data() + r * D;
    float* yr = y + r * D;
    double ss = 0;
    for (int64_t i = 0; i < D; ++i) ss += double(xr[i]) * xr[i];
    const float rs = float(1.0 / std::sqrt(ss / double(D) + double(eps)));
    rstd[size_t(r)] = rs;
    for (int64_t i = 0; i < D; ++i) yr[i] = xr[i] * rs * (w ? w[i] : 1.0f);
  });
  if (Tape::should_record({&x, &weight})) {
    Tape::active()->record(out, [x, weight, rstd = std::move(rstd), D, rows](const Tensor& g) {
      Var gx = x, gw = weight;
      const float* w = weight.defined() ? weight.data() : nullptr;
      float* dx = gx.requires_grad() ? gx.grad_buffer() : nullptr;
      float* dw = gw.requires_grad() ? gw.grad_buffer() : nullptr;
      const float* gd = g.data_as<float>();
      if (dw)
        default_pool().parallel_for(size_t(D), 16, [&](size_t lo, size_t hi, int) {
          for (int64_t r = 0; r < rows; ++r)
            for (size_t i = lo; i < hi; ++i) dw[i] += gd[r * D + int64_t(i)] * x.data()[r * D + int64_t(i)] * rstd[size_t(r)];
        });
      if (!dx) return;
      for_rows(rows, D, [&](int64_t r) {
        const float* xr = x.data() + r * D;
        const float* gr = gd + r * D;
        const float rs = rstd[size_t(r)];
        // dx = rstd·(dx̂ − x̂·mean(dx̂·x̂)), x̂ = x·rstd, dx̂ = g·w
        double m = 0;
        for (int64_t i = 0; i < D; ++i) m += double(gr[i] * (w ? w[i] : 1.0f)) * (xr[i] * rs);
        const float c = float(m / double(D));
        for (int64_t i = 0; i < D; ++i) dx[r * D + i] += rs * (gr[i] * (w ? w[i] : 1.0f) - xr[i] * rs * c);
      });
    });
  }
  return out;
}

Var batch_norm(const Var& x, const Var& weight, const Var& bias, Var running_mean, Var running_var, bool training,
               float momentum, float eps) {
  if (x.ndim() < 2) fail("batch_norm: input ", shape_string(x.shape()), " needs [N, C, ...]");
  const int64_t N = x.dim(0), C = x.dim(1), inner = N && C ? x.numel() / (N * C) : 0, M = N * inner;
  for (const Var* p : std::initializer_list<const Var*>{&weight, &bias, &running_mean, &running_var})
    if (p->defined() && (p->ndim() != 1 || p->dim(0) != C))
      fail("batch_norm: per-channel tensor ", shape_string(p->shape()), " for ", C, " channels");
  if (!running_mean.defined() || !running_var.defined()) fail("batch_norm: running statistics are required");
  if (training && M < 2) fail("batch_norm: training needs more than one value per channel, got ", shape_string(x.shape()));
  Var out = Var::zeros(x.shape());
  std::vector<float> mean(static_cast<size_t>(C)), rstd(static_cast<size_t>(C));
  const float *px = x.data(), *w = weight.defined() ? weight.data() : nullptr, *b = bias.defined() ? bias.data() : nullptr;
  float *py = out.mutable_data(), *rm = running_mean.mutable_data(), *rv = running_var.mutable_data();
  auto at = [&](int64_t n, int64_t c, int64_t i) { return (n * C + c) * inner + i; };
  default_pool().parallel_for(size_t(C), 1, [&](size_t lo, size_t hi, int) {
    for (size_t cu = lo; cu < hi; ++cu) {
      const int64_t c = int64_t(cu);
      double mu = rm[c], var = rv[c];
      if (training) {
        double s = 0, ss = 0;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t i = 0; i < inner; ++i) s += px[at(n, c, i)];
        mu = s / double(M);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t i = 0; i < inner; ++i) ss += (px[at(n, c, i)] - mu) * (px[at(n, c, i)] - mu);
        var = ss / double(M);
        // PyTorch: running statistics take the unbiased variance.
        rm[c] = float((1.0 - momentum) * rm[c] + momentum * mu);
        rv[c] = float((1.0 - momentum) * rv[c] + momentum * var * double(M) / double(M - 1));
      }
      mean[cu] = float(mu);
      rstd[cu] = float(1.0 / std::sqrt(var + double(eps)));
      const float scale = rstd[cu] * (w ? w[c] : 1.0f), shift = b ? b[c] : 0.0f;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < inner; ++i) py[at(n, c, i)] = (px[at(n, c, i)] - mean[cu]) * scale + shift;
    }
  });
  if (Tape::should_record({&x, &weight, &bias})) {
    Tape::active()->record(out, [x, weight, bias, training, mean = std::move(mean), rstd = std::move(rstd), N, C, inner,
                                 M](const Tensor& g) {
      Var gx = x, gw = weight, gb = bias;
      const float *px = x.data(), *gd = g.data_as<float>(), *w = weight.defined() ? weight.data() : nullptr;
      float* dx = gx.requires_grad() ? gx.grad_buffer() : nullptr;
      float* dw = gw.requires_grad() ? gw.grad_buffer() : nullptr;
      float* db = gb.requires_grad() ? gb.grad_buffer() : nullptr;
      auto at = [&](int64_t n, int64_t c, int64_t i) { return (n * C + c) * inner + i; };
      default_pool().parallel_for(size_t(C), 1, [&](size_t lo, size_t hi, int) {
        for (size_t cu = lo; cu < hi; ++cu) {
          const int64_t c = int64_t(cu);
          const float mu = mean[cu], rs = rstd[cu], wc = w ? w[c] : 1.0f;
          double sg = 0, sgx = 0;  // Σ g, Σ g·x̂
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < inner; ++i) {
              const int64_t k = at(n, c, i);
              sg += gd[k];
              sgx += gd[k] * (px[k] - mu) * rs;
            }
          if (dw) dw[c] += float(sgx);
          if (db) db[c] += float(sg);
          if (!dx) continue;
          // training: dx = rstd·w·(g − mean(g) − x̂·mean(g·x̂)); eval: the statistics are constants.
          const float a = training ? float(sg / double(M)) : 0.0f, k2 = training ? float(sgx / double(M)) : 0.0f;
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < inner; ++i) {
              const int64_t k = at(n, c, i);
              dx[k] += rs * wc * (gd[k] - a - (px[k] - mu) * rs * k2);
            }
        }
      });
    });
  }
  return out;
}

}  // namespace tf::train
