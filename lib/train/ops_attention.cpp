// Causal self-attention: the version composed from differentiable primitives
// ([B, H, T, D] operands; the reference the fused one is checked against),
// and the fused one the models use.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tf/error.h"
#include "tf/thread_pool.h"
#include "tf/train_ops.h"

namespace tf::train {

Var causal_attention(const Var& q, const Var& k, const Var& v) {
  if (q.ndim() != 4 || q.shape() != k.shape() || q.shape() != v.shape())
    fail("causal_attention: q, k, v must share one [B, H, T, D] shape, got ", shape_string(q.shape()), ", ",
         shape_string(k.shape()), ", ", shape_string(v.shape()));
  const int64_t T = q.dim(2), D = q.dim(3);
  Var mask = Var::zeros({T, T});
  float* m = mask.mutable_data();
  for (int64_t i = 0; i < T; ++i)
    for (int64_t j = i + 1; j < T; ++j) m[i * T + j] = -INFINITY;
  const Var scores = add(scale(matmul(q, k, false, true), 1.0f / std::sqrt(float(D))), mask);
  return matmul(softmax(scores), v);
}

}  // namespace tf::train

// ---- fused causal self-attention on token-major rows
//
// Flash-attention's recomputation scheme on the CPU: the forward keeps only
// each query row's log-sum-exp; the backward recomputes the probabilities
// from it, so no [T, T] matrix per head is ever stored. q/k/v are read in
// place from the projections' [B·T, heads·D] rows (no per-head copies).
namespace tf::train {

namespace {

// Dot product with independent partial sums, so that the compiler can keep
// them in vector registers (a single running sum is a serial dependency
// chain it may not reorder).
inline float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

struct AttnShape {
  int64_t B, T, Hq, Hkv, D;
  float scale;
  bool causal;
  std::vector<int32_t> lengths;  // valid tokens per sequence; empty: all T
  int64_t window = 0;            // > 0: query t sees only keys j > t − window
  int64_t length(int64_t b) const { return lengths.empty() ? T : lengths[size_t(b)]; }
  float drop_p = 0.0f;  // dropout on the attention probabilities
  uint64_t drop_seed = 0;
  // Dropout's multiplier for probability (b, h, t, j): 0 or 1/(1 − p), from
  // a hash of the position, so backward regenerates the forward's mask
  // without storing it.
  float keep(int64_t b, int64_t h, int64_t t, int64_t j) const {
    if (drop_p <= 0.0f) return 1.0f;
    uint64_t z = drop_seed + uint64_t(((b * Hq + h) * T + t) * T + j) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;  // splitmix64's finaliser
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return float(z >> 40) * 0x1.0p-24f < drop_p ? 0.0f : 1.0f / (1.0f - drop_p);
  }
  int64_t first_key(int64_t t) const { return window > 0 ? std::max<int64_t>(0, t - window + 1) : 0; }
  // The last key query t of sequence b sees.
  int64_t last_key(int64_t b, int64_t t) const { return std::min(causal ? t : T - 1, length(b) - 1); }
  int64_t q_row() const { return Hq * D; }
  int64_t kv_row() const { return Hkv * D; }
  int64_t group() const { return Hq / Hkv; }
};

// One (sequence, query head): out rows and the log-sum-exp of each row.
void attention_forward_head(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse,
                            int64_t b, int64_t h, float* p) {
  const int64_t g = h / s.group();
  for (int64_t t = 0; t < s.length(b); ++t) {  // padding rows stay 0
    const int64_t first = s.first_key(t), last = s.last_key(b, t);
    const float* qt = q + (b * s.T + t) * s.q_row() + h * s.D;
    float mx = -INFINITY;
    for (int64_t j = first; j <= last; ++j) {
      p[j] = s.scale * dot(qt, k + (b * s.T + j) * s.kv_row() + g * s.D, s.D);
      mx = std::max(mx, p[j]);
    }
    float sum = 0;
    for (int64_t j = first; j <= last; ++j) sum += (p[j] = std::exp(p[j] - mx));
    const float inv = 1.0f / sum;
    float* ot = out + (b * s.T + t) * s.q_row() + h * s.D;
    for (int64_t j = first; j <= last; ++j)
      axpy(p[j] * inv * s.keep(b, h, t, j), v + (b * s.T + j) * s.kv_row() + g * s.D, ot, s.D);
    lse[(b * s.Hq + h) * s.T + t] = mx + std::log(sum);
  }
}

}  // namespace

Var causal_self_attention(const Var& q, const Var& k, const Var& v, int64_t batch, int64_t n_heads, int64_t n_kv_heads,
                          float scale) {
  return self_attention(q, k, v, batch, n_heads, n_kv_heads, scale, true);
}

Var self_attention(const Var& q, const Var& k, const Var& v, int64_t batch, int64_t n_heads, int64_t n_kv_heads,
                   float scale, bool causal, std::span<const int32_t> lengths) {
  return self_attention(q, k, v, batch, n_heads, n_kv_heads, scale, causal, lengths, 0, {});
}

Var self_attention(const Var& q, const Var& k, const Var& v, int64_t batch, int64_t n_heads, int64_t n_kv_heads,
                   float scale, bool causal, std::span<const int32_t> lengths, int64_t window,
                   AttentionDropout dropout) {
  if (window < 0) fail("self_attention: negative window ", window);
  if (dropout.p < 0.0f || dropout.p >= 1.0f) fail("self_attention: dropout ", dropout.p, " outside [0, 1)");
  if (q.ndim() != 2 || k.ndim() != 2 || v.ndim() != 2 || batch <= 0 || n_heads <= 0 || n_kv_heads <= 0 ||
      n_heads % n_kv_heads != 0 || q.dim(1) % n_heads != 0 || q.dim(0) % batch != 0)
    fail("self_attention: q ", shape_string(q.shape()), " does not split into ", batch, " sequences of ",
         n_heads, " heads (", n_kv_heads, " key/value heads)");
  const AttnShape s{batch,   q.dim(0) / batch, n_heads, n_kv_heads, q.dim(1) / n_heads,
                    scale,   causal,           std::vector<int32_t>(lengths.begin(), lengths.end()),
                    window,  dropout.p,        dropout.seed};
  if (!lengths.empty()) {
    if (int64_t(lengths.size()) != batch) fail("self_attention: ", lengths.size(), " lengths for ", batch, " sequences");
    for (int32_t len : lengths)
      if (len < 1 || len > s.T) fail("self_attention: sequence length ", len, " outside [1, ", s.T, "]");
  }
  const Shape kv_shape{q.dim(0), s.kv_row()};
  if (k.shape() != kv_shape || v.shape() != kv_shape)
    fail("self_attention: k ", shape_string(k.shape()), " and v ", shape_string(v.shape()), " should be ",
         shape_string(kv_shape));
  Var out = Var::zeros(q.shape());
  Tensor lse = Tensor::zeros(DType::F32, {s.B, s.Hq, s.T});
  {
    const float *pq = q.data(), *pk = k.data(), *pv = v.data();
    float* po = out.mutable_data();
    float* pl = lse.mutable_data_as<float>();
    default_pool().parallel_for(size_t(s.B * s.Hq), 1, [&](size_t lo, size_t hi, int) {
      std::vector<float> p(size_t(s.T));
      for (size_t i = lo; i < hi; ++i)
        attention_forward_head(s, pq, pk, pv, po, pl, int64_t(i) / s.Hq, int64_t(i) % s.Hq, p.data());
    });
  }
  if (Tape::should_record({&q, &k, &v})) {
    Tape::active()->record(out, [q, k, v, s, lse, o_val = out.value()](const Tensor& g) {
      Var gq = q, gk = k, gv = v;
      const float *pq = q.data(), *pk = k.data(), *pv = v.data(), *po = o_val.data_as<float>();
      const float *pg = g.data_as<float>(), *pl = lse.data_as<float>();
      float* dq = gq.requires_grad() ? gq.grad_buffer() : nullptr;
      float* dk = gk.requires_grad() ? gk.grad_buffer() : nullptr;
      float* dv = gv.requires_grad() ? gv.grad_buffer() : nullptr;
      // One task per (sequence, key/value head): it owns that head's dk/dv
      // rows, and loops over the query heads sharing it.
      default_pool().parallel_for(size_t(s.B * s.Hkv), 1, [&](size_t lo, size_t hi, int) {
        std::vector<float> p(size_t(s.T)), dp(size_t(s.T));
        for (size_t task = lo; task < hi; ++task) {
          const int64_t b = int64_t(task) / s.Hkv, gh = int64_t(task) % s.Hkv;
          for (int64_t h = gh * s.group(); h < (gh + 1) * s.group(); ++h) {
            for (int64_t t = 0; t < s.length(b); ++t) {
              const int64_t first = s.first_key(t), last = s.last_key(b, t);
              const int64_t qo = (b * s.T + t) * s.q_row() + h * s.D;
              const float *qt = pq + qo, *dot_t = pg + qo;
              const float l = pl[(b * s.Hq + h) * s.T + t];
              const float delta = dot(dot_t, po + qo, s.D);  // Σ_j p_j·(dO·v_j) = dO·O
              for (int64_t j = first; j <= last; ++j) {
                const int64_t ko = (b * s.T + j) * s.kv_row() + gh * s.D;
                p[size_t(j)] = std::exp(s.scale * dot(qt, pk + ko, s.D) - l);
                // With dropout, out = Σ p_j·m_j·v_j: dv gets p_j·m_j·dO and
                // d p_j = m_j·(dO·v_j); Σ_j p_j·d p_j is still dO·out (= delta).
                const float m = s.keep(b, h, t, j);
                dp[size_t(j)] = p[size_t(j)] * (m * dot(dot_t, pv + ko, s.D) - delta) * s.scale;  // d score, scaled
                p[size_t(j)] *= m;
              }
              for (int64_t j = first; j <= last; ++j) {
                const int64_t ko = (b * s.T + j) * s.kv_row() + gh * s.D;
                if (dq) axpy(dp[size_t(j)], pk + ko, dq + qo, s.D);
                if (dk) axpy(dp[size_t(j)], qt, dk + ko, s.D);
                if (dv) axpy(p[size_t(j)], dot_t, dv + ko, s.D);
              }
            }
          }
        }
      });
    });
  }
  return out;
}

}  // namespace tf::train
