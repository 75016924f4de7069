// Element-wise and row-wise kernels: norms, activations, gated units, softmax,
// argmax. All f32; y may alias x (in place) unless a comment says otherwise.
// Shapes are written outermost first: x[rows, dim] has dim contiguous.
// `pool` (optional) spreads large calls over threads; small ones (a decode
// step's single row) always run on the calling thread.
#pragma once
#include <cstddef>

namespace tf {
class ThreadPool;
}

namespace tf::kernels {

// y[r] = x[r] / sqrt(mean(x[r]²) + eps) · w, or · (1 + w) for Gemma
// (one_plus_w). x, y [rows, dim]; w [dim], or nullptr for no scale. The
// normalised row is rounded to f32 before the scale, as HF computes it.
void rms_norm(const float* x, const float* w, float* y, size_t rows, size_t dim, float eps, bool one_plus_w = false,
              ThreadPool* pool = nullptr);

// y[r] = (x[r] - mean) / sqrt(var + eps) · w + b (biased variance, two-pass).
// w, b [dim] or nullptr.
void layer_norm(const float* x, const float* w, const float* b, float* y, size_t rows, size_t dim, float eps,
                ThreadPool* pool = nullptr);

// y = a + b, y = a · b, y = s · x over n elements.
void add(const float* a, const float* b, float* y, size_t n, ThreadPool* pool = nullptr);
void mul(const float* a, const float* b, float* y, size_t n, ThreadPool* pool = nullptr);
void scale(const float* x, float s, float* y, size_t n, ThreadPool* pool = nullptr);

enum class Activation {
  Silu,      // x·sigmoid(x)
  Gelu,      // 0.5·x·(1 + erf(x/√2)), torch's default GELU
  GeluTanh,  // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), approximate="tanh"
  Relu,
};

// y = act(x) over n elements.
void activation(Activation act, const float* x, float* y, size_t n, ThreadPool* pool = nullptr);
inline void silu(const float* x, float* y, size_t n, ThreadPool* pool = nullptr) { activation(Activation::Silu, x, y, n, pool); }
inline void gelu(const float* x, float* y, size_t n, ThreadPool* pool = nullptr) { activation(Activation::Gelu, x, y, n, pool); }
inline void gelu_tanh(const float* x, float* y, size_t n, ThreadPool* pool = nullptr) {
  activation(Activation::GeluTanh, x, y, n, pool);
}
inline void relu(const float* x, float* y, size_t n, ThreadPool* pool = nullptr) { activation(Activation::Relu, x, y, n, pool); }

// Gated linear unit: y = act(gate) · up over n elements (act(gate) rounded to
// f32 first, as torch computes it). y may alias gate or up.
void glu(Activation act, const float* gate, const float* up, float* y, size_t n, ThreadPool* pool = nullptr);
inline void swiglu(const float* gate, const float* up, float* y, size_t n, ThreadPool* pool = nullptr) {
  glu(Activation::Silu, gate, up, y, n, pool);
}
inline void geglu(const float* gate, const float* up, float* y, size_t n, bool tanh_approx = false,
                  ThreadPool* pool = nullptr) {
  glu(tanh_approx ? Activation::GeluTanh : Activation::Gelu, gate, up, y, n, pool);
}

// y = cap · tanh(x / cap) over n elements (Gemma 2's logit soft-capping).
void soft_cap(const float* x, float* y, size_t n, float cap, ThreadPool* pool = nullptr);

// Row-wise softmax of x[rows, cols] after z = scale·x and, if softcap > 0,
// z = softcap·tanh(z / softcap). Max-subtracted, so any finite input works;
// -inf entries get probability 0, and a row of only -inf gives zeros.
void softmax(const float* x, float* y, size_t rows, size_t cols, float scale = 1.0f, float softcap = 0.0f,
             ThreadPool* pool = nullptr);

// Index of the largest element (the first one on ties; NaNs are skipped).
// n must be > 0.
size_t argmax(const float* x, size_t n);

}  // namespace tf::kernels
