// Softmax, log-softmax and the losses built on them, over the last dimension.
// The losses are fused (one pass for value and gradient) rather than composed:
// composing log(softmax) loses precision and memory for no benefit.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "tf/error.h"
#include "tf/thread_pool.h"
#include "tf/train_ops.h"
#include "train/gemm.h"
#include "train/scratch.h"

namespace tf::train {

namespace {

// log_softmax of one row of n, scaled by 1/T first.
void log_softmax_row(const float* x, float* y, int64_t n, float inv_t = 1.0f) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i] * inv_t);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i] * inv_t - mx));
  const float log_s = float(std::log(s));
  // (x − max) − log Σ: subtracting the large max first keeps the digits.
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * inv_t - mx) - log_s;
}

// fn(r) for rows [0, rows) of `cols` elements, split across the default pool
// when there is enough work to pay for the hand-off.
template <class Fn>
void for_rows(int64_t rows, int64_t cols, Fn&& fn) {
  if (rows * cols < (int64_t(1) << 15)) {
    for (int64_t r = 0; r < rows; ++r) fn(r);
    return;
  }
  default_pool().parallel_for(size_t(rows), size_t(std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1))),
                              [&](size_t lo, size_t hi, int) {
                                for (size_t r = lo; r < hi; ++r) fn(int64_t(r));
                              });
}

int64_t rows_of(const Var& x, const char* op) {
  if (x.ndim() < 1) fail(op, ": scalar input");
  return x.dim(-1) ? x.numel() / x.dim(-1) : 0;
}

}  // namespace

Var softmax(const Var& x) {
  const int64_t C = x.ndim() ? x.dim(-1) : 0, rows = rows_of(x, "softmax");
  Var out = Var::zeros(x.shape());
  float* y = out.mutable_data();
  for_rows(rows, C, [&](int64_t r) {
    const float* xr = x.data() + r * C;
    float* yr = y + r * C;
    float mx = -INFINITY;
    for (int64_t i = 0; i < C; ++i) mx = std::max(mx, xr[i]);
    double s = 0;
    for (int64_t i = 0; i < C; ++i) s += (yr[i] = std::exp(xr[i] - mx));
    const float inv = float(1.0 / s);
    for (int64_t i = 0; i < C; ++i) yr[i] *= inv;
  });
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, y_val = out.value(), C, rows](const Tensor& g) {
      Var gx = x;
      float* dx = gx.grad_buffer();
      const float *y = y_val.data_as<float>(), *pg = g.data_as<float>();
      for_rows(rows, C, [&](int64_t r) {  // dx = y·(g − Σ g·y)
        double dot = 0;
        for (int64_t i = 0; i < C; ++i) dot += double(pg[r * C + i]) * y[r * C + i];
        for (int64_t i = 0; i < C; ++i) dx[r * C + i] += y[r * C + i] * (pg[r * C + i] - float(dot));
      });
    });
  }
  return out;
}

Var log_softmax(const Var& x) {
  const int64_t C = x.ndim() ? x.dim(-1) : 0, rows = rows_of(x, "log_softmax");
  Var out = Var::zeros(x.shape());
  float* y = out.mutable_data();
  for_rows(rows, C, [&](int64_t r) { log_softmax_row(x.data() + r * C, y + r * C, C); });
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, y_val = out.value(), C, rows](const Tensor& g) {
      Var gx = x;
      float* dx = gx.grad_buffer();
      const float *y = y_val.data_as<float>(), *pg = g.data_as<float>();
      for (int64_t r = 0; r < rows; ++r) {  // dx = g − softmax·Σ g
        double s = 0;
        for (int64_t i = 0; i < C; ++i) s += pg[r * C + i];
        for (int64_t i = 0; i < C; ++i) dx[r * C + i] += pg[r * C + i] - std::exp(y[r * C + i]) * float(s);
      }
    });
  }
  return out;
}

Var cross_entropy(const Var& logits, const std::vector<int32_t>& targets, int32_t ignore_index, float label_smoothing) {
  if (logits.ndim() != 2 || logits.dim(0) != int64_t(targets.size()))
    fail("cross_entropy: logits ", shape_string(logits.shape()), " for ", targets.size(), " targets");
  if (label_smoothing < 0.0f || label_smoothing > 1.0f) fail("cross_entropy: label smoothing ", label_smoothing, " outside [0, 1]");
  const int64_t N = logits.dim(0), C = logits.dim(1);
  const float eps = label_smoothing;
  int64_t count = 0;
  for (int32_t t : targets) {
    if (t == ignore_index) continue;
    if (t < 0 || t >= C) fail("cross_entropy: target ", t, " outside ", C, " classes");
    ++count;
  }
  std::vector<float> logp(static_cast<size_t>(N * C));
  std::vector<double> row_loss(static_cast<size_t>(N), 0.0);
  for_rows(N, C, [&](int64_t r) {
    const int32_t t = targets[size_t(r)];
    if (t == ignore_index) return;
    float* lp = logp.data() + r * C;
    log_softmax_row(logits.data() + r * C, lp, C);
    double smooth = 0;
    if (eps > 0)
      for (int64_t i = 0; i < C; ++i) smooth += lp[i];
    row_loss[size_t(r)] = -((1.0 - eps) * lp[t] + eps / double(C) * smooth);
  });
  double total = 0;
  for (double l : row_loss) total += l;
  // No counted target: 0 rather than PyTorch's 0/0 = NaN, so a fully padded
  // micro-batch does not poison an accumulated gradient.
  Var out = Var::scalar(count ? float(total / double(count)) : 0.0f);
  if (count && Tape::should_record({&logits})) {
    Tape::active()->record(out, [logits, targets, ignore_index, eps, N, C, count, logp = std::move(logp)](const Tensor& g) {
      Var gl = logits;
      float* d = gl.grad_buffer();
      const float k = g.data_as<float>()[0] / float(count);
      for_rows(N, C, [&](int64_t r) {  // d = softmax − target distribution
        const int32_t t = targets[size_t(r)];
        if (t == ignore_index) return;
        for (int64_t i = 0; i < C; ++i) {
          const float q = (i == t ? 1.0f - eps : 0.0f) + eps / float(C);
          d[r * C + i] += k * (std::exp(logp[size_t(r * C + i)]) - q);
        }
      });
    });
  }
  return out;
}

Var mse_loss(const Var& a, const Var& b) {
  if (a.shape() != b.shape()) fail("mse_loss: shapes ", shape_string(a.shape()), " and ", shape_string(b.shape()), " differ");
  const int64_t n = a.numel();
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(a.data()[i]) - b.data()[i];
    s += d * d;
  }
  Var out = Var::scalar(n ? float(s / double(n)) : 0.0f);
  if (n && Tape::should_record({&a, &b})) {
    Tape::active()->record(out, [a, b, n](const Tensor& g) {
      Var ga = a, gb = b;
      const float k = 2.0f * g.data_as<float>()[0] / float(n);
      float* da = ga.requires_grad() ? ga.grad_buffer() : nullptr;
      float* db = gb.requires_grad() ? gb.grad_buffer() : nullptr;
      for (int64_t i = 0; i < n; ++i) {
        const float d = k * (a.data()[i] - b.data()[i]);
        if (da) da[i] += d;
        if (db) db[i] -= d;
      }
    });
  }
  return out;
}

Var kl_div(const Var& student_logits, const Var& teacher_logits, float temperature) {
  if (student_logits.shape() != teacher_logits.shape())
    fail("kl_div: shapes ", shape_string(student_logits.shape()), " and ", shape_string(teacher_logits.shape()), " differ");
  if (!(temperature > 0.0f)) fail("kl_div: temperature must be positive, got ", temperature);
  const int64_t C = student_logits.ndim() ? student_logits.dim(-1) : 0, rows = rows_of(student_logits, "kl_div");
  const float T = temperature, inv_t = 1.0f / T;
  std::vector<float> log_q(static_cast<size_t>(rows * C)), log_p(static_cast<size_t>(rows * C));  // student, teacher
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    log_softmax_row(student_logits.data() + r * C, log_q.data() + r * C, C, inv_t);
    log_softmax_row(teacher_logits.data() + r * C, log_p.data() + r * C, C, inv_t);
    for (int64_t i = 0; i < C; ++i) {
      const size_t j = size_t(r * C + i);
      total += std::exp(double(log_p[j])) * (double(log_p[j]) - log_q[j]);
    }
  }
  Var out = Var::scalar(rows ? float(total * T * T / double(rows)) : 0.0f);
  if (rows && Tape::should_record({&student_logits, &teacher_logits})) {
    Tape::active()->record(out, [student_logits, teacher_logits, log_q = std::move(log_q), log_p = std::move(log_p), T, C,
                                 rows](const Tensor& g) {
      Var gs = student_logits, gt = teacher_logits;
      const float k = g.data_as<float>()[0] * T / float(rows);
      float* ds = gs.requires_grad() ? gs.grad_buffer() : nullptr;
      float* dt = gt.requires_grad() ? gt.grad_buffer() : nullptr;
      for (int64_t r = 0; r < rows; ++r) {
        const float* lq = log_q.data() + r * C;
        const float* lp = log_p.data() + r * C;
        // d/ds = T/N·(q − p); d/dt = T/N·p·(h − Σ p·h), h = log p − log q
        double ph = 0;
        for (int64_t i = 0; i < C; ++i) ph += std::exp(double(lp[i])) * (double(lp[i]) - lq[i]);
        for (int64_t i = 0; i < C; ++i) {
          const float p = std::exp(lp[i]);
          if (ds) ds[r * C + i] += k * (std::exp(lq[i]) - p);
          if (dt) dt[r * C + i] += k * p * (lp[i] - lq[i] - float(ph));
        }
      }
    });
  }
  return out;
}

}  // namespace tf::train

// ---- the language-model head fused with its loss
//
// logits = h·wᵀ is [N, vocab]: for a GPT-2 vocabulary and a batch of 1024
// tokens that is 200 MB, written, read by the softmax, read again by the
// gradient. Here the logits exist one chunk of rows at a time, turned into
// probabilities in place by the inference softmax kernel, and — when a
// gradient is wanted — into (p − onehot) whose products with w and h (dh and
// dw) are formed right away. The backward pass then only scales those by the
// incoming gradient. The price: a forward recorded on a tape does the
// backward's GEMMs even if backward() is never called.
namespace tf::train {

Var linear_cross_entropy(const Var& h, const Var& w, std::span<const int32_t> targets, int32_t ignore_index) {
  if (h.ndim() != 2 || w.ndim() != 2 || h.dim(1) != w.dim(1) || h.dim(0) != int64_t(targets.size()))
    fail("linear_cross_entropy: hidden ", shape_string(h.shape()), ", weight ", shape_string(w.shape()), " and ",
         targets.size(), " targets do not match");
  const int64_t N = h.dim(0), K = h.dim(1), V = w.dim(0);
  int64_t count = 0;
  for (int32_t t : targets) {
    if (t == ignore_index) continue;
    if (t < 0 || t >= V) fail("linear_cross_entropy: target ", t, " outside ", V, " classes");
    ++count;
  }
  const bool record = count > 0 && Tape::should_record({&h, &w});
  Var gh = h, gw = w;
  // dh [N, K] and dw [V, K]: every element is written (dh chunk by chunk, dw
  // by the first chunk's β = 0 product), so they need no zeroing.
  std::shared_ptr<float[]> dh = record && h.requires_grad() ? detail::scratch(size_t(N * K)) : nullptr;
  std::shared_ptr<float[]> dw = record && w.requires_grad() ? detail::scratch(size_t(V * K)) : nullptr;
  // About 64 MiB of logits per chunk: large enough for efficient GEMMs, small
  // enough not to hold a whole batch's logits.
  const int64_t chunk = std::clamp<int64_t>((int64_t(16) << 20) / std::max<int64_t>(V, 1), 16, std::max<int64_t>(N, 1));
  const std::shared_ptr<float[]> buf = detail::scratch(size_t(std::min(chunk, N) * V));
  // wᵀ [K, V], for dh's product on the inference kernel.
  std::shared_ptr<float[]> wt = dh ? detail::scratch(size_t(V * K)) : nullptr;
  if (wt) {
    float* t = wt.get();
    const float* pw = w.data();
    constexpr int64_t kTile = 32;  // tiles keep both sides' cache lines in use
    default_pool().parallel_for(size_t((V + kTile - 1) / kTile), 16, [&](size_t lo, size_t hi, int) {
      for (int64_t v0 = int64_t(lo) * kTile; v0 < std::min<int64_t>(V, int64_t(hi) * kTile); v0 += kTile)
        for (int64_t k0 = 0; k0 < K; k0 += kTile)
          for (int64_t k = k0; k < std::min(K, k0 + kTile); ++k)
            for (int64_t v = v0; v < std::min(V, v0 + kTile); ++v) t[k * V + v] = pw[v * K + k];
    });
  }
  std::vector<double> row_loss(size_t(N), 0.0);
  const float inv_count = count ? 1.0f / float(count) : 0.0f;
  for (int64_t r0 = 0; r0 < N; r0 += chunk) {
    const int64_t R = std::min(chunk, N - r0);
    float* L = buf.get();
    const float* hr = h.data() + r0 * K;
    // The inference GEMM (x·Wᵀ, AVX-512 where the CPU has it) measured
    // faster than OpenBLAS's sgemm for this shape.
    kernels::matmul(hr, w.data(), DType::F32, nullptr, L, size_t(R), size_t(V), size_t(K));
    kernels::softmax(L, L, size_t(R), size_t(V), 1.0f, 0.0f, &default_pool());
    default_pool().parallel_for(size_t(R), 1, [&](size_t lo, size_t hi, int) {
      for (size_t i = lo; i < hi; ++i) {
        const int64_t r = r0 + int64_t(i);
        const int32_t t = targets[size_t(r)];
        float* p = L + int64_t(i) * V;
        if (t == ignore_index) {
          if (record) std::fill(p, p + V, 0.0f);
          continue;
        }
        if (p[t] > 1e-30f) {
          row_loss[size_t(r)] = -std::log(double(p[t]));
        } else {
          // The target's probability underflowed: recompute this row's
          // logits and take log-sum-exp − logit exactly.
          std::vector<float> z(static_cast<size_t>(V));
          for (int64_t c = 0; c < V; ++c) {
            double s = 0;
            for (int64_t j = 0; j < K; ++j) s += double(h.data()[r * K + j]) * w.data()[c * K + j];
            z[size_t(c)] = float(s);
          }
          const float mx = *std::max_element(z.begin(), z.end());
          double se = 0;
          for (float v : z) se += std::exp(double(v - mx));
          row_loss[size_t(r)] = double(mx) + std::log(se) - z[size_t(t)];
        }
        if (record) p[t] -= 1.0f;  // p − onehot
      }
    });
    if (!record) continue;
    if (dh) {  // dh = (p − onehot)·w / count, as x·(wᵀ)ᵀ on the same kernel
      kernels::matmul(L, wt.get(), DType::F32, nullptr, dh.get() + r0 * K, size_t(R), size_t(K), size_t(V));
      float* d = dh.get() + r0 * K;
      for (int64_t i = 0; i < R * K; ++i) d[i] *= inv_count;
    }
    if (dw) detail::gemm(true, false, V, K, R, L, V, hr, K, r0 == 0 ? 0.0f : 1.0f, dw.get(), K, inv_count);
  }
  double total = 0;
  for (double l : row_loss) total += l;
  Var out = Var::scalar(count ? float(total / double(count)) : 0.0f);
  if (record) {
    Tape::active()->record(out, [gh, gw, dh, dw](const Tensor& g) {
      const float k = g.data_as<float>()[0];
      for (auto [var, d] : {std::pair{gh, dh.get()}, std::pair{gw, dw.get()}}) {
        if (!d) continue;
        float* dst = var.grad_buffer();
        default_pool().parallel_for(size_t(var.numel()), size_t(1) << 16, [&](size_t lo, size_t hi, int) {
          for (size_t i = lo; i < hi; ++i) dst[i] += k * d[i];
        });
      }
    });
  }
  return out;
}

}  // namespace tf::train

// ---- cosine similarity and the cosine loss
namespace tf::train {

Var cosine_similarity(const Var& a, const Var& b, float eps) {
  if (a.shape() != b.shape() || a.ndim() < 1)
    fail("cosine_similarity: shapes ", shape_string(a.shape()), " and ", shape_string(b.shape()), " differ");
  const int64_t D = a.dim(-1), rows = D ? a.numel() / D : 0;
  Shape out_shape(a.shape().begin(), a.shape().end() - 1);
  Var out = Var::zeros(out_shape);
  std::vector<float> na(static_cast<size_t>(rows)), nb(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0, sa = 0, sb = 0;
    for (int64_t i = 0; i < D; ++i) {
      const double x = a.data()[r * D + i], y = b.data()[r * D + i];
      dot += x * y, sa += x * x, sb += y * y;
    }
    na[size_t(r)] = float(std::sqrt(sa));
    nb[size_t(r)] = float(std::sqrt(sb));
    out.mutable_data()[r] = float(dot / std::max(std::sqrt(sa) * std::sqrt(sb), double(eps)));
  }
  if (Tape::should_record({&a, &b})) {
    Tape::active()->record(out, [a, b, D, rows, eps, na = std::move(na), nb = std::move(nb),
                                 cos = out.value()](const Tensor& g) {
      Var ga = a, gb = b;
      float* da = ga.requires_grad() ? ga.grad_buffer() : nullptr;
      float* db = gb.requires_grad() ? gb.grad_buffer() : nullptr;
      for (int64_t r = 0; r < rows; ++r) {
        const float gr = g.data_as<float>()[r], c = cos.data_as<float>()[r];
        const float d = na[size_t(r)] * nb[size_t(r)];
        const bool clamped = d <= eps;  // cos = a·b / eps: only the dot product varies
        const float inv_d = 1.0f / (clamped ? eps : d);
        for (int64_t i = 0; i < D; ++i) {
          const float x = a.data()[r * D + i], y = b.data()[r * D + i];
          if (da) da[r * D + i] += gr * (y * inv_d - (clamped ? 0.0f : c * x / (na[size_t(r)] * na[size_t(r)])));
          if (db) db[r * D + i] += gr * (x * inv_d - (clamped ? 0.0f : c * y / (nb[size_t(r)] * nb[size_t(r)])));
        }
      }
    });
  }
  return out;
}

Var cosine_loss(const Var& a, const Var& b) { return mean(add_scalar(neg(cosine_similarity(a, b)), 1.0f)); }

}  // namespace tf::train
