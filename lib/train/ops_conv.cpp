// 2-D convolution and pooling on NCHW tensors. A convolution is one GEMM over
// the whole batch: im2col turns the input into a row per output pixel
// ([N·Ho·Wo, C·kh·kw]), the product with the weight's [O, C·kh·kw] rows is a
// Linear layer, and the result is permuted to [N, O, Ho, Wo]. Backward runs
// the same in reverse (col2im adds the column gradients back into pixels).
#include <cstring>
#include <limits>

#include "tf/error.h"
#include "tf/thread_pool.h"
#include "tf/train_ops.h"
#include "train/gemm.h"

namespace tf::train {

namespace {

struct ConvShape {
  int64_t N, C, H, W, O, kh, kw, stride, pad, Ho, Wo;
  int64_t patch() const { return C * kh * kw; }
  int64_t pixels() const { return Ho * Wo; }
};

// cols[(n·Ho + oy)·Wo + ox][(c·kh + ky)·kw + kx] = x[n, c, oy·s − p + ky, ox·s − p + kx] (0 outside).
void im2col(const ConvShape& s, const float* x, float* cols) {
  default_pool().parallel_for(size_t(s.N * s.Ho), 1, [&](size_t lo, size_t hi, int) {
    for (size_t row = lo; row < hi; ++row) {
      const int64_t n = int64_t(row) / s.Ho, oy = int64_t(row) % s.Ho;
      for (int64_t ox = 0; ox < s.Wo; ++ox) {
        float* dst = cols + (int64_t(row) * s.Wo + ox) * s.patch();
        for (int64_t c = 0; c < s.C; ++c)
          for (int64_t ky = 0; ky < s.kh; ++ky) {
            const int64_t iy = oy * s.stride - s.pad + ky;
            for (int64_t kx = 0; kx < s.kw; ++kx) {
              const int64_t ix = ox * s.stride - s.pad + kx;
              *dst++ = iy < 0 || iy >= s.H || ix < 0 || ix >= s.W ? 0.0f : x[((n * s.C + c) * s.H + iy) * s.W + ix];
            }
          }
      }
    }
  });
}

// dx += col2im(dcols); one task per image, so no two threads add to one pixel.
void col2im_add(const ConvShape& s, const float* dcols, float* dx) {
  default_pool().parallel_for(size_t(s.N), 1, [&](size_t lo, size_t hi, int) {
    for (size_t n = lo; n < hi; ++n)
      for (int64_t oy = 0; oy < s.Ho; ++oy)
        for (int64_t ox = 0; ox < s.Wo; ++ox) {
          const float* src = dcols + ((int64_t(n) * s.Ho + oy) * s.Wo + ox) * s.patch();
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t ky = 0; ky < s.kh; ++ky) {
              const int64_t iy = oy * s.stride - s.pad + ky;
              for (int64_t kx = 0; kx < s.kw; ++kx, ++src) {
                const int64_t ix = ox * s.stride - s.pad + kx;
                if (iy >= 0 && iy < s.H && ix >= 0 && ix < s.W) dx[((int64_t(n) * s.C + c) * s.H + iy) * s.W + ix] += *src;
              }
            }
        }
  });
}

int64_t out_size(int64_t in, int64_t k, int64_t stride, int64_t pad) { return (in + 2 * pad - k) / stride + 1; }

}  // namespace

Var conv2d(const Var& x, const Var& w, const Var& bias, int64_t stride, int64_t padding) {
  if (x.ndim() != 4 || w.ndim() != 4 || x.dim(1) != w.dim(1) || stride < 1 || padding < 0 ||
      (bias.defined() && (bias.ndim() != 1 || bias.dim(0) != w.dim(0))))
    fail("conv2d: input ", shape_string(x.shape()), ", weight ", shape_string(w.shape()), " and bias ",
         bias.defined() ? shape_string(bias.shape()) : "none", " do not match (NCHW, [O, C, kh, kw])");
  ConvShape s{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), stride, padding, 0, 0};
  if (s.H + 2 * padding < s.kh || s.W + 2 * padding < s.kw)
    fail("conv2d: kernel ", s.kh, "x", s.kw, " larger than the padded input ", s.H, "x", s.W);
  s.Ho = out_size(s.H, s.kh, stride, padding);
  s.Wo = out_size(s.W, s.kw, stride, padding);
  const int64_t rows = s.N * s.pixels();
  std::vector<float> cols(size_t(rows * s.patch()));
  im2col(s, x.data(), cols.data());
  std::vector<float> y_rows(size_t(rows * s.O));  // [N·Ho·Wo, O]
  detail::gemm(false, true, rows, s.O, s.patch(), cols.data(), s.patch(), w.data(), s.patch(), 0.0f, y_rows.data(), s.O);
  Var out = Var::zeros({s.N, s.O, s.Ho, s.Wo});
  float* y = out.mutable_data();
  const float* b = bias.defined() ? bias.data() : nullptr;
  default_pool().parallel_for(size_t(s.N * s.O), 1, [&](size_t lo, size_t hi, int) {
    for (size_t no = lo; no < hi; ++no) {
      const int64_t n = int64_t(no) / s.O, o = int64_t(no) % s.O;
      for (int64_t p = 0; p < s.pixels(); ++p) y[int64_t(no) * s.pixels() + p] = y_rows[size_t((n * s.pixels() + p) * s.O + o)] + (b ? b[o] : 0.0f);
    }
  });
  if (Tape::should_record({&x, &w, &bias})) {
    Tape::active()->record(out, [x, w, bias, s, rows, cols = std::move(cols)](const Tensor& g) {
      Var gx = x, gw = w, gb = bias;
      const float* gd = g.data_as<float>();
      std::vector<float> g_rows(size_t(rows * s.O));  // dY as [N·Ho·Wo, O]
      default_pool().parallel_for(size_t(s.N), 1, [&](size_t lo, size_t hi, int) {
        for (size_t n = lo; n < hi; ++n)
          for (int64_t o = 0; o < s.O; ++o)
            for (int64_t p = 0; p < s.pixels(); ++p)
              g_rows[size_t((int64_t(n) * s.pixels() + p) * s.O + o)] = gd[(int64_t(n) * s.O + o) * s.pixels() + p];
      });
      if (gw.requires_grad())  // dW[O, patch] += dYᵀ·cols
        detail::gemm(true, false, s.O, s.patch(), rows, g_rows.data(), s.O, cols.data(), s.patch(), 1.0f, gw.grad_buffer(), s.patch());
      if (gb.requires_grad()) {
        float* db = gb.grad_buffer();
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t o = 0; o < s.O; ++o) db[o] += g_rows[size_t(r * s.O + o)];
      }
      if (gx.requires_grad()) {
        std::vector<float> dcols(size_t(rows * s.patch()));  // dY·W
        detail::gemm(false, false, rows, s.patch(), s.O, g_rows.data(), s.O, w.data(), s.patch(), 0.0f, dcols.data(), s.patch());
        col2im_add(s, dcols.data(), gx.grad_buffer());
      }
    });
  }
  return out;
}

namespace {

// Max (avg = false) or average pooling; for max, `arg` receives each output's
// input index (−1 when the window saw only padding).
Var pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding, bool avg, const char* op) {
  if (stride <= 0) stride = kernel;
  if (x.ndim() != 4 || kernel < 1 || padding < 0 || 2 * padding > kernel)
    fail(op, ": input ", shape_string(x.shape()), " (NCHW), kernel ", kernel, ", padding ", padding,
         " (at most half the kernel)");
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  if (H + 2 * padding < kernel || W + 2 * padding < kernel) fail(op, ": kernel ", kernel, " larger than the input");
  const int64_t Ho = out_size(H, kernel, stride, padding), Wo = out_size(W, kernel, stride, padding);
  Var out = Var::zeros({N, C, Ho, Wo});
  std::vector<int64_t> arg(avg ? 0 : size_t(N * C * Ho * Wo), -1);
  const float* px = x.data();
  float* py = out.mutable_data();
  const float inv_area = 1.0f / float(kernel * kernel);  // PyTorch's count_include_pad=True
  default_pool().parallel_for(size_t(N * C), 1, [&](size_t lo, size_t hi, int) {
    for (size_t plane = lo; plane < hi; ++plane) {
      const float* xp = px + int64_t(plane) * H * W;
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox) {
          float acc = avg ? 0.0f : -std::numeric_limits<float>::infinity();
          int64_t best = -1;
          for (int64_t ky = 0; ky < kernel; ++ky)
            for (int64_t kx = 0; kx < kernel; ++kx) {
              const int64_t iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              const float v = xp[iy * W + ix];
              if (avg) acc += v;
              else if (v > acc || best < 0) acc = v, best = iy * W + ix;
            }
          const int64_t o = (int64_t(plane) * Ho + oy) * Wo + ox;
          py[o] = avg ? acc * inv_area : acc;
          if (!avg) arg[size_t(o)] = best;
        }
    }
  });
  if (Tape::should_record({&x})) {
    Tape::active()->record(out, [x, kernel, stride, padding, avg, N, C, H, W, Ho, Wo, inv_area,
                                 arg = std::move(arg)](const Tensor& g) {
      Var gx = x;
      float* dx = gx.grad_buffer();
      const float* gd = g.data_as<float>();
      default_pool().parallel_for(size_t(N * C), 1, [&](size_t lo, size_t hi, int) {
        for (size_t plane = lo; plane < hi; ++plane) {
          float* dp = dx + int64_t(plane) * H * W;
          for (int64_t oy = 0; oy < Ho; ++oy)
            for (int64_t ox = 0; ox < Wo; ++ox) {
              const int64_t o = (int64_t(plane) * Ho + oy) * Wo + ox;
              if (!avg) {
                if (arg[size_t(o)] >= 0) dp[arg[size_t(o)]] += gd[o];
                continue;
              }
              for (int64_t ky = 0; ky < kernel; ++ky)
                for (int64_t kx = 0; kx < kernel; ++kx) {
                  const int64_t iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                  if (iy >= 0 && iy < H && ix >= 0 && ix < W) dp[iy * W + ix] += gd[o] * inv_area;
                }
            }
        }
      });
    });
  }
  return out;
}

}  // namespace

Var max_pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding) {
  return pool2d(x, kernel, stride, padding, false, "max_pool2d");
}

Var avg_pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding) {
  return pool2d(x, kernel, stride, padding, true, "avg_pool2d");
}

}  // namespace tf::train
