// Attention driver (ISA-independent): for each query row and each group of
// query heads that share a kv head, the scores come from matmul's dot kernels
// (the group's heads are the rows of x, the cached keys the rows of W, so
// each key is read once per group), then ops' softmax (scale and soft-cap
// included), then P·V. The causal mask and the sliding window only narrow
// the key range. Also the scalar P·V and the naive reference.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/attention_impl.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_impl.h"
#include "kernels/cpu/ops_impl.h"
#include "tf/cpu_features.h"
#include "tf/error.h"
#include "tf/half.h"
#include "tf/quant.h"
#include "tf/thread_pool.h"

namespace tf::kernels {
namespace attn {
namespace {

template <class T>
float value(const T* p, size_t i) {
  if constexpr (sizeof(T) == 2)
    return f16_to_f32(p[i]);
  else
    return p[i];
}

template <class T>
void pv_scalar(const float* p, size_t ps, size_t rows, size_t L, const void* vv, size_t vs, size_t hd, float* out,
               size_t os) {
  const T* v = static_cast<const T*>(vv);
  for (size_t r = 0; r < rows; ++r) {
    float* o = out + r * os;
    for (size_t d = 0; d < hd; ++d) o[d] = 0.0f;
    for (size_t j = 0; j < L; ++j) {
      const float pj = p[r * ps + j];
      for (size_t d = 0; d < hd; ++d) o[d] += pj * value(v + j * vs, d);
    }
  }
}

const AttnTable kScalar{&pv_scalar<float>, &pv_scalar<uint16_t>};

}  // namespace

const AttnTable& attn_table(int level) {
  if (level >= 2) return avx512::table();
  if (level == 1) return avx2::table();
  return kScalar;
}

}  // namespace attn

namespace {

// Bytes of one cached row (head_dim elements) of type t.
size_t kv_row_bytes(DType t, size_t hd) { return hd / traits(t).block_size * traits(t).type_size; }

void check_kv_type(DType t, size_t hd, const char* which) {
  if (t == DType::F32 || t == DType::F16) return;
  if (!traits(t).is_quantized || !matmul_supported(t) || hd % traits(t).block_size)
    fail("attention: ", which, " cache of type ", dtype_name(t), " is not supported with head_dim ", hd,
         " (f32, f16, or a block type whose block size divides head_dim)");
}

// Rows [lo, lo+L) of a quantized V head as f32 (thread-local scratch).
const float* dequantized_rows(DType t, const char* rows, size_t L, size_t hd) {
  thread_local std::vector<float> buf;
  if (buf.size() < L * hd) buf.resize(L * hd);
  quant::dequantize_row(t, rows, buf.data(), int64_t(L * hd));  // rows are contiguous
  return buf.data();
}

AttentionArgs with_defaults(const AttentionArgs& in) {
  AttentionArgs a = in;
  if (a.n_kv_heads == 0 || a.n_heads % a.n_kv_heads)
    fail("attention: n_heads (", a.n_heads, ") must be a multiple of n_kv_heads (", a.n_kv_heads, ")");
  if (!a.v_type) a.v_type = a.kv_type;
  check_kv_type(a.kv_type, a.head_dim, "K");
  check_kv_type(*a.v_type, a.head_dim, "V");
  if (a.q_stride == 0) a.q_stride = a.n_heads * a.head_dim;
  if (a.out_stride == 0) a.out_stride = a.n_heads * a.head_dim;
  if (a.kv_head_stride == 0) a.kv_head_stride = a.n_kv * a.head_dim;
  if (a.scale == 0.0f) a.scale = 1.0f / std::sqrt(float(a.head_dim));
  return a;
}

// Keys [lo, hi] that query row i sees; empty when hi < lo.
void key_range(const AttentionArgs& a, size_t i, int64_t& lo, int64_t& hi) {
  const int64_t p = a.q_pos ? int64_t(a.q_pos[i]) : int64_t(a.n_kv) - int64_t(a.n_q) + int64_t(i);
  hi = a.causal ? std::min<int64_t>(p, int64_t(a.n_kv) - 1) : int64_t(a.n_kv) - 1;
  lo = a.window > 0 ? std::max<int64_t>(0, p - a.window + 1) : 0;
}

// Scores s[0..n) of query row i, head h, keys lo.. : when the call has a key
// mask or a score bias, scale and soft-cap are applied here (the softmax then
// runs with scale 1), the bias added and masked keys set to -inf. Returns the
// scale the softmax still has to apply.
float finish_scores(const AttentionArgs& a, size_t i, size_t h, int64_t lo, float* s, size_t n) {
  if (!a.key_mask && !a.score_bias) return a.scale;
  for (size_t j = 0; j < n; ++j) {
    float z = s[j] * a.scale;
    if (a.softcap > 0) z = std::tanh(z / a.softcap) * a.softcap;
    s[j] = z;
  }
  if (a.score_bias) {
    const float* b = a.score_bias + h * a.bias_head_stride + i * a.bias_row_stride + size_t(lo);
    for (size_t j = 0; j < n; ++j) s[j] += b[j];
  }
  if (a.key_mask)
    for (size_t j = 0; j < n; ++j)
      if (!a.key_mask[size_t(lo) + j]) s[j] = -std::numeric_limits<float>::infinity();
  return 1.0f;
}

// Prompts: blocks of query rows of one head. The scores of a block are a
// small GEMM (rows x head_dim times head_dim x keys) run on the packed GEMM
// engine; one query at a time would leave the dot products dominated by
// their horizontal sums, as head_dim is short.
constexpr size_t kBlockMinRows = 16;
constexpr size_t kBlockRows = 48;  // 4 microkernel panels

void attention_blocks(const AttentionArgs& a, ThreadPool& pool, int level) {
  static ThreadPool serial(1);  // runs the GEMM inline on the task's thread
  const ops::OpsTable& ops = ops::ops_table(level);
  const DType vt = *a.v_type;
  const attn::PvFn pv = vt == DType::F16 ? attn::attn_table(level).pv_f16 : attn::attn_table(level).pv_f32;
  const size_t hd = a.head_dim, group = a.n_heads / a.n_kv_heads, slots = a.kv_head_stride / hd;
  const size_t k_row = kv_row_bytes(a.kv_type, hd), v_row = kv_row_bytes(vt, hd);
  const bool k_quant = traits(a.kv_type).is_quantized, v_quant = traits(vt).is_quantized;
  const size_t n_blocks = (a.n_q + kBlockRows - 1) / kBlockRows;
  const char* kb = static_cast<const char*>(a.k);
  const char* vb = static_cast<const char*>(a.v);

  // head-major: a thread's consecutive tasks share the head's keys in cache
  pool.parallel_for(a.n_heads * n_blocks, 1, [&](size_t tb, size_t te, int) {
    thread_local std::vector<float> scores;
    int64_t row_lo[kBlockRows], row_hi[kBlockRows];
    for (size_t task = tb; task < te; ++task) {
      const size_t h = task / n_blocks, g = h / group;
      const size_t i0 = task % n_blocks * kBlockRows, rows = std::min(kBlockRows, a.n_q - i0);
      float* out = a.out + i0 * a.out_stride + h * hd;
      int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1;
      for (size_t r = 0; r < rows; ++r) {
        key_range(a, i0 + r, row_lo[r], row_hi[r]);
        if (row_hi[r] >= row_lo[r]) {
          lo = std::min(lo, row_lo[r]);
          hi = std::max(hi, row_hi[r]);
        }
      }
      if (hi < lo) {
        for (size_t r = 0; r < rows; ++r) std::fill(out + r * a.out_stride, out + r * a.out_stride + hd, 0.0f);
        continue;
      }
      const size_t L = size_t(hi - lo + 1);
      if (scores.size() < rows * L) scores.resize(rows * L);
      const size_t slot = g * slots + size_t(lo);
      MatmulArgs m;
      m.M = rows;
      m.N = L;
      m.K = hd;
      m.x = a.q + i0 * a.q_stride + h * hd;
      m.ldx = a.q_stride;
      m.w = kb + slot * k_row;
      m.w_type = a.kv_type;
      m.w_stride = k_row;
      m.y = scores.data();
      m.ldy = L;
      // quantized keys: the integer kernels, q quantized as ggml does
      matmul(m, serial, k_quant ? MatmulPath::Gemv : MatmulPath::Gemm, level);
      // Each row's softmax runs over its own keys; the rest of the row of
      // the block's key range gets probability 0.
      for (size_t r = 0; r < rows; ++r) {
        float* s = scores.data() + r * L;
        if (row_hi[r] < row_lo[r]) {
          std::fill(s, s + L, 0.0f);
          continue;
        }
        const size_t b = size_t(row_lo[r] - lo), e = size_t(row_hi[r] - lo) + 1;
        std::fill(s, s + b, 0.0f);
        const bool plain = !a.key_mask && !a.score_bias;
        const float sc = finish_scores(a, i0 + r, h, row_lo[r], s + b, e - b);
        ops.softmax(s + b, s + b, 1, e - b, sc, plain ? a.softcap : 0.0f);
        std::fill(s + e, s + L, 0.0f);
      }
      const void* v = v_quant ? static_cast<const void*>(dequantized_rows(vt, vb + slot * v_row, L, hd)) : vb + slot * v_row;
      pv(scores.data(), L, rows, L, v, hd, hd, out, a.out_stride);
    }
  });
}

}  // namespace

void attention(const AttentionArgs& in, ThreadPool& pool, int level) {
  const AttentionArgs a = with_defaults(in);
  if (level < 0) level = cpu_level();
  if (level > cpu_features().level())
    fail("attention: ISA level ", level, " requested but this CPU supports ", cpu_features().level());
  if (a.n_q == 0 || a.n_heads == 0 || a.head_dim == 0) return;
  if (a.n_q >= kBlockMinRows) return attention_blocks(a, pool, level);
  const mm::TypeKernels& dot = *mm::type_kernels(a.kv_type, level);
  const ops::OpsTable& ops = ops::ops_table(level);
  const DType vt = *a.v_type;
  const attn::PvFn pv = vt == DType::F16 ? attn::attn_table(level).pv_f16 : attn::attn_table(level).pv_f32;
  const size_t hd = a.head_dim, group = a.n_heads / a.n_kv_heads, slots = a.kv_head_stride / hd;
  const size_t k_row = kv_row_bytes(a.kv_type, hd), v_row = kv_row_bytes(vt, hd);
  const bool v_quant = traits(vt).is_quantized;

  // Tasks: (kv head, chunk of its query heads, query row), query row fastest
  // so that a thread's consecutive tasks reuse the same keys from cache. The
  // group is cut into chunks only when there are too few tasks to go round
  // (decode with few kv heads).
  const size_t threads = size_t(pool.size());
  size_t n_chunks = 1;
  while (a.n_kv_heads * n_chunks * a.n_q < 2 * threads && n_chunks < group) n_chunks *= 2;
  n_chunks = std::min(n_chunks, group);
  const size_t chunk = (group + n_chunks - 1) / n_chunks;
  const size_t tasks = a.n_kv_heads * n_chunks * a.n_q;
  const char* kb = static_cast<const char*>(a.k);
  const char* vb = static_cast<const char*>(a.v);

  pool.parallel_for(tasks, 1, [&](size_t tb, size_t te, int) {
    thread_local std::vector<float> scores;
    thread_local std::vector<uint8_t> q_prepared;
    for (size_t task = tb; task < te; ++task) {
      const size_t i = task % a.n_q, c = task / a.n_q % n_chunks, g = task / a.n_q / n_chunks;
      const size_t h0 = g * group + c * chunk, h1 = std::min(g * group + group, h0 + chunk);
      if (h0 >= h1) continue;
      const size_t rows = h1 - h0;
      float* out = a.out + i * a.out_stride + h0 * hd;
      int64_t lo, hi;
      key_range(a, i, lo, hi);
      if (hi < lo) {
        std::fill(out, out + rows * hd, 0.0f);
        continue;
      }
      const size_t L = size_t(hi - lo + 1);
      if (scores.size() < rows * L) scores.resize(rows * L);
      const size_t slot = g * slots + size_t(lo);
      const void* q = a.q + i * a.q_stride + h0 * hd;
      size_t q_stride = hd * sizeof(float);
      if (dot.prepare_x) {  // quantized keys: q as ggml's vec_dot_type
        q_stride = dot.x_row_bytes(hd);
        q_prepared.resize(rows * q_stride);
        dot.prepare_x(a.q + i * a.q_stride + h0 * hd, hd, rows, hd, q_prepared.data());
        q = q_prepared.data();
      }
      dot.dot_rows(q, q_stride, rows, hd, kb + slot * k_row, k_row, nullptr, 0, L, scores.data(), L);
      if (!a.key_mask && !a.score_bias) {
        ops.softmax(scores.data(), scores.data(), rows, L, a.scale, a.softcap);
      } else {
        for (size_t r = 0; r < rows; ++r) {
          float* s = scores.data() + r * L;
          ops.softmax(s, s, 1, L, finish_scores(a, i, h0 + r, lo, s, L), 0.0f);
        }
      }
      const void* v = v_quant ? static_cast<const void*>(dequantized_rows(vt, vb + slot * v_row, L, hd)) : vb + slot * v_row;
      pv(scores.data(), L, rows, L, v, hd, hd, out, hd);
    }
  });
}

void attention_ref(const AttentionArgs& in) {
  const AttentionArgs a = with_defaults(in);
  const size_t hd = a.head_dim, group = a.n_heads / a.n_kv_heads, slots = a.kv_head_stride / hd;
  std::vector<float> row(hd);
  auto kv = [&](const void* base, DType t, size_t g, size_t j, size_t d) {
    const size_t at = g * a.kv_head_stride + j * hd + d;
    if (t == DType::F16) return f16_to_f32(static_cast<const uint16_t*>(base)[at]);
    if (t == DType::F32) return static_cast<const float*>(base)[at];
    quant::dequantize_row(t, static_cast<const char*>(base) + (g * slots + j) * kv_row_bytes(t, hd), row.data(),
                          int64_t(hd));
    return row[d];
  };
  std::vector<float> s(a.n_kv);
  for (size_t i = 0; i < a.n_q; ++i)
    for (size_t h = 0; h < a.n_heads; ++h) {
      const size_t g = h / group;
      const float* q = a.q + i * a.q_stride + h * hd;
      float* out = a.out + i * a.out_stride + h * hd;
      int64_t lo, hi;
      key_range(a, i, lo, hi);
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = lo; j <= hi; ++j) {
        float dot = 0;
        for (size_t d = 0; d < hd; ++d) dot += q[d] * kv(a.k, a.kv_type, g, size_t(j), d);
        float z = dot * a.scale;
        if (a.softcap > 0) z = std::tanh(z / a.softcap) * a.softcap;
        if (a.score_bias) z += a.score_bias[h * a.bias_head_stride + i * a.bias_row_stride + size_t(j)];
        if (a.key_mask && !a.key_mask[size_t(j)]) z = -std::numeric_limits<float>::infinity();
        s[size_t(j)] = z;
        mx = std::max(mx, z);
      }
      float sum = 0;
      for (int64_t j = lo; j <= hi; ++j)
        sum += s[size_t(j)] = std::isinf(mx) ? 0.0f : std::exp(s[size_t(j)] - mx);
      if (sum == 0) sum = 1;  // every visible key masked: zeros, as attention() gives
      for (size_t d = 0; d < hd; ++d) {
        float o = 0;
        for (int64_t j = lo; j <= hi; ++j) o += s[size_t(j)] / sum * kv(a.v, *a.v_type, g, size_t(j), d);
        out[d] = o;
      }
    }
}

}  // namespace tf::kernels
