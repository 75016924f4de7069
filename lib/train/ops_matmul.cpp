// matmul and linear. Forward and backward products all go to a tuned GEMM:
// linear's forward to kernels::matmul (the same kernel inference runs), every
// other product — including all backward ones, which need transposed operands
// the packed kernel does not take — to OpenBLAS sgemm.
#include <algorithm>

#include "kernels/cpu/matmul.h"
#include "tf/error.h"
#include "tf/thread_pool.h"
#include "tf/train_ops.h"
#include "train/gemm.h"

namespace tf::train {

namespace {

using detail::gemm;

// db[n] += Σ_m dY[m, n], columns split across the pool.
void add_bias_grad(const float* dY, int64_t M, int64_t N, float* db) {
  default_pool().parallel_for(size_t(N), 64, [&](size_t b, size_t e, int) {
    for (int64_t m = 0; m < M; ++m) {
      const float* row = dY + m * N;
      for (size_t n = b; n < e; ++n) db[n] += row[n];
    }
  });
}

int64_t batch_of(const Shape& s) {
  int64_t b = 1;
  for (size_t i = 0; i + 2 < s.size(); ++i) b *= s[i];
  return b;
}

}  // namespace

Var matmul(const Var& a, const Var& b, bool trans_a, bool trans_b) {
  if (a.ndim() < 2 || b.ndim() < 2) fail("matmul: operands need 2 or more dimensions, got ", shape_string(a.shape()), " and ", shape_string(b.shape()));
  const int64_t ar = a.dim(-2), ac = a.dim(-1), br = b.dim(-2), bc = b.dim(-1);
  const int64_t M = trans_a ? ac : ar, K = trans_a ? ar : ac;
  const int64_t Kb = trans_b ? bc : br, N = trans_b ? br : bc;
  const bool shared_b = b.ndim() == 2;
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  if (K != Kb || (!shared_b && Shape(b.shape().begin(), b.shape().end() - 2) != batch_a))
    fail("matmul: shapes ", shape_string(a.shape()), (trans_a ? "ᵀ" : ""), " and ", shape_string(b.shape()),
         (trans_b ? "ᵀ" : ""), " do not multiply");
  const int64_t batch = batch_of(a.shape());
  Shape out_shape = batch_a;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Var out = Var::zeros(out_shape);
  const int64_t sa = ar * ac, sb = shared_b ? 0 : br * bc, sc = M * N;
  for (int64_t i = 0; i < batch; ++i)
    gemm(trans_a, trans_b, M, N, K, a.data() + i * sa, ac, b.data() + i * sb, bc, 0.0f, out.mutable_data() + i * sc, N);
  if (Tape::should_record({&a, &b})) {
    Tape::active()->record(out, [a, b, trans_a, trans_b, M, N, K, ac, bc, sa, sb, sc, batch](const Tensor& g) {
      Var ga = a, gb = b;
      const float* gd = g.data_as<float>();
      for (int64_t i = 0; i < batch; ++i) {
        const float* dC = gd + i * sc;
        if (ga.requires_grad()) {
          float* dA = ga.grad_buffer() + i * sa;
          if (!trans_a)  // dA[M,K] = dC·op(B)ᵀ
            gemm(false, !trans_b, M, K, N, dC, N, b.data() + i * sb, bc, 1.0f, dA, ac);
          else  // A is stored [K,M]: dA = op(B)·dCᵀ
            gemm(trans_b, true, K, M, N, b.data() + i * sb, bc, dC, N, 1.0f, dA, ac);
        }
        if (gb.requires_grad()) {
          float* dB = gb.grad_buffer() + i * sb;
          if (!trans_b)  // dB[K,N] = op(A)ᵀ·dC
            gemm(!trans_a, false, K, N, M, a.data() + i * sa, ac, dC, N, 1.0f, dB, bc);
          else  // B is stored [N,K]: dB = dCᵀ·op(A)
            gemm(true, trans_a, N, K, M, dC, N, a.data() + i * sa, ac, 1.0f, dB, bc);
        }
      }
    });
  }
  return out;
}

Var linear(const Var& x, const Var& w, const Var& bias) {
  if (w.ndim() != 2 || x.ndim() < 1 || x.dim(-1) != w.dim(1))
    fail("linear: input ", shape_string(x.shape()), " and weight ", shape_string(w.shape()), " do not match");
  const int64_t K = w.dim(1), N = w.dim(0), M = x.numel() / (K ? K : 1);
  if (bias.defined() && (bias.ndim() != 1 || bias.dim(0) != N))
    fail("linear: bias ", shape_string(bias.shape()), " for ", N, " outputs");
  Shape out_shape = x.shape();
  out_shape.back() = N;
  Var out = Var::zeros(out_shape);
  if (M > 0 && N > 0)
    kernels::matmul(x.data(), w.data(), DType::F32, bias.defined() ? bias.data() : nullptr, out.mutable_data(),
                    size_t(M), size_t(N), size_t(K));
  if (Tape::should_record({&x, &w, &bias})) {
    Tape::active()->record(out, [x, w, bias, M, N, K](const Tensor& g) {
      Var gx = x, gw = w, gbias = bias;
      const float* dY = g.data_as<float>();
      if (gx.requires_grad()) gemm(false, false, M, K, N, dY, N, w.data(), K, 1.0f, gx.grad_buffer(), K);
      if (gw.requires_grad()) gemm(true, false, N, K, M, dY, N, x.data(), K, 1.0f, gw.grad_buffer(), K);
      if (gbias.requires_grad()) add_bias_grad(dY, M, N, gbias.grad_buffer());
    });
  }
  return out;
}

Var linear_kn(const Var& x, const Var& w, const Var& bias) {
  if (w.ndim() != 2 || x.ndim() < 1 || x.dim(-1) != w.dim(0))
    fail("linear_kn: input ", shape_string(x.shape()), " and [in, out] weight ", shape_string(w.shape()), " do not match");
  const int64_t K = w.dim(0), N = w.dim(1), M = x.numel() / (K ? K : 1);
  if (bias.defined() && (bias.ndim() != 1 || bias.dim(0) != N))
    fail("linear_kn: bias ", shape_string(bias.shape()), " for ", N, " outputs");
  Shape out_shape = x.shape();
  out_shape.back() = N;
  Var out = Var::zeros(out_shape);
  float* y = out.mutable_data();
  float beta = 0.0f;
  if (bias.defined() && M > 0) {
    for (int64_t m = 0; m < M; ++m) std::copy(bias.data(), bias.data() + N, y + m * N);
    beta = 1.0f;
  }
  gemm(false, false, M, N, K, x.data(), K, w.data(), N, beta, y, N);
  if (Tape::should_record({&x, &w, &bias})) {
    Tape::active()->record(out, [x, w, bias, M, N, K](const Tensor& g) {
      Var gx = x, gw = w, gbias = bias;
      const float* dY = g.data_as<float>();
      if (gx.requires_grad()) gemm(false, true, M, K, N, dY, N, w.data(), N, 1.0f, gx.grad_buffer(), K);  // dY·Wᵀ
      if (gw.requires_grad()) gemm(true, false, K, N, M, x.data(), K, dY, N, 1.0f, gw.grad_buffer(), N);  // Xᵀ·dY
      if (gbias.requires_grad()) add_bias_grad(dY, M, N, gbias.grad_buffer());
    });
  }
  return out;
}

}  // namespace tf::train
