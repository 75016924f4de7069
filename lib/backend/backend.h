// The seam between models and kernels. Model code calls these operations and
// never a kernel directly, so another backend (Vulkan, a later issue) plugs in
// here without touching model code. Operands are host f32 buffers shaped as
// documented in lib/kernels/cpu; weights are Tensors in their stored dtype.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/rope.h"
#include "tf/tensor.h"

namespace tf {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual bool supports(DType weight_type) const = 0;

  // Called once per weight matrix at load: the same matrix in a layout this
  // backend's linear() reads faster (a Tensor in_backend_layout()), or w
  // itself when there is none.
  virtual Tensor prepare_linear_weight(const Tensor& w) { return w; }
  // y[rows, out] (rows ldy apart) = x[rows, in] · Wᵀ (+ bias[out])
  virtual void linear(const float* x, size_t rows, const Tensor& w, const float* bias, float* y, size_t ldy) = 0;
  // out[d] = row `row` of an embedding table, as f32
  virtual void embedding(const Tensor& table, int64_t row, float* out) = 0;
  virtual void rms_norm(const float* x, const float* w, float* y, size_t rows, size_t dim, float eps,
                        bool one_plus_w) = 0;
  virtual void layer_norm(const float* x, const float* w, const float* b, float* y, size_t rows, size_t dim,
                          float eps) = 0;
  virtual void rope(float* x, size_t n_tokens, size_t n_heads, size_t head_dim, size_t rot_dim, const int32_t* pos,
                    const float* inv_freq, kernels::RopeLayout layout, size_t token_stride) = 0;
  // Writes n tokens' k or v rows (src rows src_stride floats apart, heads of
  // head_dim) into a cache laid out [n_kv_heads][capacity][head_dim] of
  // cache_type (F32 / F16 / a block type: rows of head_dim elements quantized), at positions pos0 ..
  virtual void store_kv(const float* src, size_t src_stride, size_t n, size_t pos0, size_t n_kv_heads,
                        size_t head_dim, size_t capacity, DType cache_type, void* cache) = 0;
  virtual void attention(const kernels::AttentionArgs& args) = 0;
  virtual void activation(kernels::Activation act, const float* x, float* y, size_t n) = 0;
  virtual void glu(kernels::Activation act, const float* gate, const float* up, float* y, size_t n) = 0;
  virtual void add(const float* a, const float* b, float* y, size_t n) = 0;
  virtual void scale(const float* x, float s, float* y, size_t n) = 0;
};

// Runs on the process's default thread pool with runtime ISA dispatch; while
// tf::profile is enabled, the same backend wrapped in a per-op timer.
Backend& cpu_backend();

// `inner` with every operation timed into tf::profile (one process-wide
// instance; the first call's `inner` is kept).
Backend& profiling_backend(Backend& inner);

}  // namespace tf
