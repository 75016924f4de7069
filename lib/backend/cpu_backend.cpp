#include <cstdlib>
#include <cstring>
#include <memory>

#include "backend/backend.h"
#include "kernels/cpu/matmul.h"
#include "tf/error.h"
#include "tf/half.h"
#include "tf/mapped_file.h"
#include "tf/op_profile.h"
#include "tf/quant.h"
#include "tf/thread_pool.h"

namespace tf {
namespace {

bool interleave_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("TF_INTERLEAVE");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return on;
}

class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  bool supports(DType t) const override { return kernels::matmul_supported(t); }

  // Block types with interleaved decode kernels on this CPU get their rows
  // interleaved (kernels/cpu/quant_interleave.h): 2-4x faster GEMV. Set
  // TF_INTERLEAVE=0 to keep the file's layout (e.g. to compare).
  Tensor prepare_linear_weight(const Tensor& w) override {
    if (w.ndim() != 2 || w.in_backend_layout() || !kernels::can_interleave(w.dtype()) || !interleave_enabled()) return w;
    const size_t N = size_t(w.dim(0)), K = size_t(w.dim(1));
    const size_t bytes = kernels::interleaved_weight_bytes(w.dtype(), N, K);
    void* p = allocate_weight_memory(bytes);
    std::shared_ptr<const void> owner(p, [bytes](const void* q) { free_weight_memory(const_cast<void*>(q), bytes); });
    kernels::interleave_weights(w.dtype(), w.data(), size_t(w.stride(0)), N, K, p, default_pool());
    return Tensor::backend_layout(w.dtype(), w.shape(), p, std::move(owner));
  }

  void linear(const float* x, size_t rows, const Tensor& w, const float* bias, float* y, size_t ldy) override {
    kernels::MatmulArgs a;
    a.w_interleaved = w.in_backend_layout();
    a.M = rows;
    a.N = size_t(w.dim(0));
    a.K = size_t(w.dim(1));
    a.x = x;
    a.w = w.data();
    a.w_type = w.dtype();
    a.w_stride = size_t(w.stride(0));
    a.bias = bias;
    a.y = y;
    a.ldy = ldy;
    kernels::matmul(a, default_pool());
  }

  void embedding(const Tensor& table, int64_t row, float* out) override {
    if (row < 0 || row >= table.dim(0)) fail("token id ", row, " is out of range (vocabulary of ", table.dim(0), ")");
    size_t d = size_t(table.dim(1));
    const uint8_t* p = static_cast<const uint8_t*>(table.data()) + size_t(row * table.stride(0));
    switch (table.dtype()) {
      case DType::F32: std::memcpy(out, p, d * 4); break;
      case DType::F16: f16_to_f32(reinterpret_cast<const uint16_t*>(p), out, d); break;
      case DType::BF16: bf16_to_f32(reinterpret_cast<const uint16_t*>(p), out, d); break;
      default:
        // A quantized table (llama.cpp quantizes token_embd too): only the
        // looked-up row is dequantized.
        if (!traits(table.dtype()).is_quantized)
          fail("embedding type ", dtype_name(table.dtype()), " is not supported");
        quant::dequantize_row(table.dtype(), p, out, int64_t(d));
    }
  }

  void rms_norm(const float* x, const float* w, float* y, size_t rows, size_t dim, float eps, bool one_plus_w) override {
    kernels::rms_norm(x, w, y, rows, dim, eps, one_plus_w, &default_pool());
  }
  void layer_norm(const float* x, const float* w, const float* b, float* y, size_t rows, size_t dim, float eps) override {
    kernels::layer_norm(x, w, b, y, rows, dim, eps, &default_pool());
  }
  void rope(float* x, size_t n_tokens, size_t n_heads, size_t head_dim, size_t rot_dim, const int32_t* pos,
            const float* inv_freq, kernels::RopeLayout layout, size_t token_stride) override {
    kernels::rope(x, n_tokens, n_heads, head_dim, rot_dim, pos, inv_freq, layout, 1.0f, token_stride, &default_pool());
  }
  void store_kv(const float* src, size_t src_stride, size_t n, size_t pos0, size_t n_kv_heads, size_t head_dim,
                size_t capacity, DType cache_type, void* cache) override {
    const size_t row_bytes = head_dim / traits(cache_type).block_size * traits(cache_type).type_size;
    for (size_t t = 0; t < n; ++t)
      for (size_t h = 0; h < n_kv_heads; ++h) {
        const float* row = src + t * src_stride + h * head_dim;
        uint8_t* dst = static_cast<uint8_t*>(cache) + (h * capacity + pos0 + t) * row_bytes;
        if (cache_type == DType::F16)
          f32_to_f16(row, reinterpret_cast<uint16_t*>(dst), head_dim);
        else if (cache_type == DType::F32)
          std::memcpy(dst, row, head_dim * 4);
        else  // llama.cpp's cache copy quantizes with ggml's quantize_row_*
          quant::quantize_rows(cache_type, row, dst, 1, int64_t(head_dim), nullptr);
      }
  }
  void attention(const kernels::AttentionArgs& args) override { kernels::attention(args, default_pool()); }
  void activation(kernels::Activation act, const float* x, float* y, size_t n) override {
    kernels::activation(act, x, y, n, &default_pool());
  }
  void glu(kernels::Activation act, const float* gate, const float* up, float* y, size_t n) override {
    kernels::glu(act, gate, up, y, n, &default_pool());
  }
  void add(const float* a, const float* b, float* y, size_t n) override { kernels::add(a, b, y, n, &default_pool()); }
  void scale(const float* x, float s, float* y, size_t n) override { kernels::scale(x, s, y, n, &default_pool()); }
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return profile::enabled() ? profiling_backend(backend) : backend;
}

}  // namespace tf
