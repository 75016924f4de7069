// A Backend decorator that times each operation kind and forwards to the CPU
// backend; cpu_backend() hands it out while tf::profile is enabled, so model
// code needs no change to be profiled.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>

#include "backend/backend.h"
#include "tf/op_profile.h"

namespace tf {
namespace {

enum class Op { Linear, Embedding, RmsNorm, LayerNorm, Rope, StoreKv, Attention, Activation, Glu, Add, Scale, Count };
constexpr std::array<const char*, size_t(Op::Count)> kOpNames = {
    "linear", "embedding", "rms_norm", "layer_norm", "rope", "store_kv",
    "attention", "activation", "glu", "add", "scale"};

struct Counter {
  std::atomic<uint64_t> calls{0}, ns{0};
};
std::array<Counter, size_t(Op::Count)> g_counters;
std::atomic<bool> g_enabled{false};

class Timed {
 public:
  explicit Timed(Op op) : op_(op), t0_(std::chrono::steady_clock::now()) {}
  ~Timed() {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_).count();
    Counter& c = g_counters[size_t(op_)];
    c.calls.fetch_add(1, std::memory_order_relaxed);
    c.ns.fetch_add(uint64_t(ns), std::memory_order_relaxed);
  }
  Timed(const Timed&) = delete;
  Timed& operator=(const Timed&) = delete;

 private:
  Op op_;
  std::chrono::steady_clock::time_point t0_;
};

class ProfilingBackend : public Backend {
 public:
  explicit ProfilingBackend(Backend& inner) : inner_(inner) {}
  std::string name() const override { return inner_.name(); }
  bool supports(DType t) const override { return inner_.supports(t); }

  Tensor prepare_linear_weight(const Tensor& w) override { return inner_.prepare_linear_weight(w); }
  void linear(const float* x, size_t rows, const Tensor& w, const float* bias, float* y, size_t ldy) override {
    Timed t(Op::Linear);
    inner_.linear(x, rows, w, bias, y, ldy);
  }
  void embedding(const Tensor& table, int64_t row, float* out) override {
    Timed t(Op::Embedding);
    inner_.embedding(table, row, out);
  }
  void rms_norm(const float* x, const float* w, float* y, size_t rows, size_t dim, float eps, bool one_plus_w) override {
    Timed t(Op::RmsNorm);
    inner_.rms_norm(x, w, y, rows, dim, eps, one_plus_w);
  }
  void layer_norm(const float* x, const float* w, const float* b, float* y, size_t rows, size_t dim, float eps) override {
    Timed t(Op::LayerNorm);
    inner_.layer_norm(x, w, b, y, rows, dim, eps);
  }
  void rope(float* x, size_t n_tokens, size_t n_heads, size_t head_dim, size_t rot_dim, const int32_t* pos,
            const float* inv_freq, kernels::RopeLayout layout, size_t token_stride) override {
    Timed t(Op::Rope);
    inner_.rope(x, n_tokens, n_heads, head_dim, rot_dim, pos, inv_freq, layout, token_stride);
  }
  void store_kv(const float* src, size_t src_stride, size_t n, size_t pos0, size_t n_kv_heads, size_t head_dim,
                size_t capacity, DType cache_type, void* cache) override {
    Timed t(Op::StoreKv);
    inner_.store_kv(src, src_stride, n, pos0, n_kv_heads, head_dim, capacity, cache_type, cache);
  }
  void attention(const kernels::AttentionArgs& args) override {
    Timed t(Op::Attention);
    inner_.attention(args);
  }
  void activation(kernels::Activation act, const float* x, float* y, size_t n) override {
    Timed t(Op::Activation);
    inner_.activation(act, x, y, n);
  }
  void glu(kernels::Activation act, const float* gate, const float* up, float* y, size_t n) override {
    Timed t(Op::Glu);
    inner_.glu(act, gate, up, y, n);
  }
  void add(const float* a, const float* b, float* y, size_t n) override {
    Timed t(Op::Add);
    inner_.add(a, b, y, n);
  }
  void scale(const float* x, float s, float* y, size_t n) override {
    Timed t(Op::Scale);
    inner_.scale(x, s, y, n);
  }

 private:
  Backend& inner_;
};

}  // namespace

Backend& profiling_backend(Backend& inner) {
  static ProfilingBackend backend(inner);
  return backend;
}

namespace profile {

void enable(bool on) { g_enabled.store(on, std::memory_order_relaxed); }
bool enabled() { return g_enabled.load(std::memory_order_relaxed); }

void reset() {
  for (Counter& c : g_counters) {
    c.calls.store(0, std::memory_order_relaxed);
    c.ns.store(0, std::memory_order_relaxed);
  }
}

std::vector<OpTime> snapshot() {
  std::vector<OpTime> out;
  for (size_t i = 0; i < g_counters.size(); ++i) {
    uint64_t calls = g_counters[i].calls.load(std::memory_order_relaxed);
    if (calls) out.push_back({kOpNames[i], calls, double(g_counters[i].ns.load(std::memory_order_relaxed)) / 1e6});
  }
  std::stable_sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.ms > b.ms; });
  return out;
}

}  // namespace profile
}  // namespace tf
