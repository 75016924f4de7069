// Attention of every ISA level, and the naive reference, against a
// double-precision implementation: GQA / MQA, causal prompts and decode
// steps, sliding windows, soft-capping, f16 caches, strided q / out, cache
// capacity beyond n_kv, head sizes with vector tails, key masks and additive
// score terms (encoders). Outputs are O(1)
// (averages of N(0,1) values); f32 accumulation keeps them within 2e-5.
#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/test_util.h"
#include "tf/error.h"
#include "tf/quant.h"
#include "tf/thread_pool.h"

namespace tf::kernels {
namespace {

using test::isa_levels;
using test::level_name;

struct Config {
  const char* name;
  size_t n_q, n_heads, n_kv_heads, head_dim, n_kv;
  bool causal = true;
  int32_t window = 0;
  float softcap = 0, scale = 0;
  DType kv_type = DType::F32;
  size_t capacity_extra = 0, q_extra = 0, out_extra = 0;
  std::vector<int32_t> q_pos = {};
  std::vector<uint8_t> key_mask = {};  // encoders: 0 hides a key
  bool score_bias = false;             // encoders: random additive terms per head, query, key
};

struct Data {
  std::vector<float> q, kf, vf;         // values as the kernels see them (f16-rounded for f16 caches)
  std::vector<uint16_t> kh, vh;         // f16 caches
  std::vector<float> bias;              // [n_heads][n_q][n_kv + 3] (rows padded: bias_row_stride)
  size_t capacity;
};

Data make_data(const Config& c) {
  Data d;
  d.capacity = c.n_kv + c.capacity_extra;
  const size_t cache = c.n_kv_heads * d.capacity * c.head_dim;
  d.q = test::random_floats(c.n_q * (c.n_heads * c.head_dim + c.q_extra), 1);
  d.kf = test::random_floats(cache, 2);
  d.vf = test::random_floats(cache, 3);
  if (c.score_bias) d.bias = test::random_floats(c.n_heads * c.n_q * (c.n_kv + 3), 4);
  if (c.kv_type == DType::F16) {
    d.kh.resize(cache);
    d.vh.resize(cache);
    for (size_t i = 0; i < cache; ++i) {
      d.kh[i] = f32_to_f16(d.kf[i]);
      d.kf[i] = f16_to_f32(d.kh[i]);
      d.vh[i] = f32_to_f16(d.vf[i]);
      d.vf[i] = f16_to_f32(d.vh[i]);
    }
  }
  return d;
}

AttentionArgs make_args(const Config& c, Data& d, float* out) {
  AttentionArgs a;
  a.n_q = c.n_q;
  a.n_heads = c.n_heads;
  a.n_kv_heads = c.n_kv_heads;
  a.head_dim = c.head_dim;
  a.q = d.q.data();
  a.q_stride = c.q_extra ? c.n_heads * c.head_dim + c.q_extra : 0;
  a.kv_type = c.kv_type;
  a.k = c.kv_type == DType::F16 ? static_cast<const void*>(d.kh.data()) : d.kf.data();
  a.v = c.kv_type == DType::F16 ? static_cast<const void*>(d.vh.data()) : d.vf.data();
  a.kv_head_stride = d.capacity * c.head_dim;
  a.n_kv = c.n_kv;
  a.q_pos = c.q_pos.empty() ? nullptr : c.q_pos.data();
  a.causal = c.causal;
  a.window = c.window;
  a.scale = c.scale;
  a.softcap = c.softcap;
  a.key_mask = c.key_mask.empty() ? nullptr : c.key_mask.data();
  if (c.score_bias) {
    a.score_bias = d.bias.data();
    a.bias_row_stride = c.n_kv + 3;
    a.bias_head_stride = c.n_q * (c.n_kv + 3);
  }
  a.out = out;
  a.out_stride = c.out_extra ? c.n_heads * c.head_dim + c.out_extra : 0;
  return a;
}

// The textbook formula in double, with an explicit -inf mask.
std::vector<double> naive(const Config& c, const Data& d) {
  const size_t hd = c.head_dim, group = c.n_heads / c.n_kv_heads, qs = c.n_heads * hd + c.q_extra;
  const double scale = c.scale ? c.scale : 1 / std::sqrt(double(hd));
  std::vector<double> out(c.n_q * c.n_heads * hd, 0.0);
  for (size_t i = 0; i < c.n_q; ++i) {
    const int64_t p = c.q_pos.empty() ? int64_t(c.n_kv - c.n_q + i) : c.q_pos[i];
    for (size_t h = 0; h < c.n_heads; ++h) {
      const size_t g = h / group;
      std::vector<double> s(c.n_kv);
      double mx = -INFINITY;
      for (size_t j = 0; j < c.n_kv; ++j) {
        double dot = 0;
        for (size_t e = 0; e < hd; ++e) dot += double(d.q[i * qs + h * hd + e]) * d.kf[(g * d.capacity + j) * hd + e];
        double z = dot * scale;
        if (c.softcap > 0) z = c.softcap * std::tanh(z / c.softcap);
        if (c.score_bias) z += d.bias[(h * c.n_q + i) * (c.n_kv + 3) + j];
        const bool visible = (!c.causal || int64_t(j) <= p) && (c.window <= 0 || int64_t(j) > p - c.window) &&
                             (c.key_mask.empty() || c.key_mask[j]);
        s[j] = visible ? z : -INFINITY;
        mx = std::max(mx, s[j]);
      }
      if (mx == -INFINITY) continue;  // sees nothing: zeros
      double sum = 0;
      for (double& v : s) sum += v = std::exp(v - mx);
      for (size_t j = 0; j < c.n_kv; ++j)
        for (size_t e = 0; e < hd; ++e) out[(i * c.n_heads + h) * hd + e] += s[j] / sum * d.vf[(g * d.capacity + j) * hd + e];
    }
  }
  return out;
}

std::vector<Config> configs() {
  std::vector<Config> v;
  v.push_back({"decode gqa", 1, 8, 2, 64, 37});
  v.push_back({"decode gqa f16", 1, 8, 2, 64, 100, true, 0, 0, 0, DType::F16});
  v.push_back({"decode mha tinyllama-like", 1, 32, 4, 64, 512});
  v.push_back({"prompt fresh", 7, 4, 2, 64, 7});
  v.push_back({"prompt continued, strided", 5, 6, 3, 32, 50, true, 0, 0, 0, DType::F32, 11, 7, 9});
  v.push_back({"mqa hd80", 3, 4, 1, 80, 33});
  v.push_back({"odd head dim f16", 4, 3, 3, 17, 21, true, 0, 0, 0, DType::F16, 3});
  v.push_back({"window", 9, 4, 2, 32, 30, true, 5});
  v.push_back({"softcap and scale", 6, 4, 4, 48, 40, true, 0, 20.0f, 0.3f});
  v.push_back({"window softcap f16", 6, 8, 2, 96, 64, true, 16, 50.0f, 0, DType::F16});
  v.push_back({"bidirectional", 9, 2, 1, 16, 9, false});
  // 16 query rows and more take the blocked (GEMM) path
  v.push_back({"prompt blocks gqa", 100, 8, 2, 64, 100});
  v.push_back({"prompt blocks continued f16 strided", 50, 4, 1, 48, 130, true, 0, 0, 0, DType::F16, 5, 3, 2});
  v.push_back({"prompt blocks window softcap", 61, 4, 2, 32, 61, true, 7, 30.0f});
  v.push_back({"prompt blocks bidirectional hd17", 33, 2, 2, 17, 33, false});
  Config block_gaps{"prompt blocks, explicit positions, some see nothing", 20, 2, 1, 16, 30, true, 4};
  for (int i = 0; i < 20; ++i) block_gaps.q_pos.push_back(i < 10 ? 3 * i : 40 + i);
  v.push_back(block_gaps);
  // encoders: padding masks and additive relative-position terms, both paths
  Config pad{"bidirectional padding mask", 9, 4, 4, 16, 9, false};
  pad.key_mask = {1, 1, 1, 1, 1, 1, 0, 0, 0};
  v.push_back(pad);
  Config bias{"bidirectional score bias softcap", 7, 2, 2, 32, 7, false, 0, 10.0f};
  bias.score_bias = true;
  v.push_back(bias);
  Config blocks{"prompt blocks mask and bias", 40, 4, 4, 16, 40, false};
  blocks.score_bias = true;
  for (int j = 0; j < 40; ++j) blocks.key_mask.push_back(j % 7 != 3 && j < 35);
  v.push_back(blocks);
  Config none{"every key masked", 3, 2, 2, 16, 3, false};
  none.key_mask = {0, 0, 0};
  v.push_back(none);
  Config gaps{"explicit positions, some see nothing", 3, 2, 1, 16, 12, true, 3};
  gaps.q_pos = {2, 11, 40};  // the last is past the cache: its window is empty
  v.push_back(gaps);
  return v;
}

void expect_close(const Config& c, const std::vector<float>& got, size_t out_stride, const std::vector<double>& want,
                  const std::string& what) {
  const size_t hd = c.head_dim;
  for (size_t i = 0; i < c.n_q; ++i)
    for (size_t h = 0; h < c.n_heads; ++h)
      for (size_t e = 0; e < hd; ++e)
        ASSERT_NEAR(got[i * out_stride + h * hd + e], want[(i * c.n_heads + h) * hd + e], 2e-5)
            << c.name << " " << what << " q " << i << " head " << h << " dim " << e;
}

TEST(Attention, MatchesNaiveDouble) {
  ThreadPool pool(3);
  for (const Config& c : configs()) {
    Data d = make_data(c);
    const auto want = naive(c, d);
    const size_t os = c.n_heads * c.head_dim + c.out_extra;
    for (int level : isa_levels()) {
      std::vector<float> out(c.n_q * os, 123.0f);
      attention(make_args(c, d, out.data()), pool, level);
      expect_close(c, out, os, want, level_name(level));
      for (size_t i = 0; i < c.n_q; ++i)
        for (size_t e = c.n_heads * c.head_dim; e < os; ++e) {
          ASSERT_EQ(out[i * os + e], 123.0f) << "wrote between rows";
        }
      if (HasFatalFailure()) return;
    }
    std::vector<float> out(c.n_q * os);
    attention_ref(make_args(c, d, out.data()));
    expect_close(c, out, os, want, "reference");
    if (HasFatalFailure()) return;
  }
}

TEST(Attention, SingleThreadSameAsThreaded) {
  ThreadPool one(1), three(3);
  Config c = configs()[2];
  Data d = make_data(c);
  std::vector<float> a(c.n_q * c.n_heads * c.head_dim), b(a.size());
  attention(make_args(c, d, a.data()), one);
  attention(make_args(c, d, b.data()), three);
  EXPECT_EQ(a, b);
}

TEST(Attention, RejectsBadHeadCounts) {
  Config c = configs()[0];
  Data d = make_data(c);
  std::vector<float> out(c.n_q * c.n_heads * c.head_dim);
  AttentionArgs a = make_args(c, d, out.data());
  a.n_kv_heads = 3;
  EXPECT_THROW(attention(a, default_pool()), Error);
}

// Quantized caches (rows of head_dim quantized as blocks): against the
// reference, which dequantizes K and V exactly; the kernels also quantize q
// to Q8_0 for the integer dot products (as llama.cpp does), which moves the
// scores by ~0.5 % and the outputs (V ~ N(0, 1)) by a few 1e-3.
TEST(Attention, QuantizedKvCaches) {
  ThreadPool pool(3);
  struct Types {
    DType k, v;
  };
  for (Types t : {Types{DType::Q8_0, DType::Q8_0}, Types{DType::Q4_0, DType::Q4_0}, Types{DType::F16, DType::Q4_1},
                  Types{DType::Q5_0, DType::F32}})
    for (size_t n_q : {size_t(1), size_t(3), size_t(20)}) {
      const size_t n_heads = 8, n_kv_heads = 2, hd = 64, n_kv = 45, cap = 50;
      auto q = test::random_floats(n_q * n_heads * hd, 1);
      auto kf = test::random_floats(n_kv_heads * cap * hd, 2), vf = test::random_floats(n_kv_heads * cap * hd, 3);
      auto store = [&](DType type, const std::vector<float>& f) {
        std::vector<uint8_t> b(*row_bytes(type, hd) * n_kv_heads * cap);
        if (type == DType::F32) std::memcpy(b.data(), f.data(), f.size() * 4);
        else quant::quantize_rows(type, f.data(), b.data(), int64_t(n_kv_heads * cap), int64_t(hd), nullptr);
        return b;
      };
      auto kb = store(t.k, kf), vb = store(t.v, vf);
      AttentionArgs a;
      a.n_q = n_q;
      a.n_heads = n_heads;
      a.n_kv_heads = n_kv_heads;
      a.head_dim = hd;
      a.q = q.data();
      a.k = kb.data();
      a.v = vb.data();
      a.kv_type = t.k;
      a.v_type = t.v;
      a.kv_head_stride = cap * hd;
      a.n_kv = n_kv;
      std::vector<float> want(n_q * n_heads * hd), got(want.size());
      a.out = want.data();
      attention_ref(a);
      for (int level : isa_levels()) {
        a.out = got.data();
        attention(a, pool, level);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 0.02) << dtype_name(t.k) << "/" << dtype_name(t.v) << " n_q=" << n_q << " "
                                             << level_name(level) << " at " << i;
      }
    }
}

TEST(Attention, RejectsCacheTypesItCannotRead) {
  Config c = configs()[0];
  Data d = make_data(c);
  std::vector<float> out(c.n_q * c.n_heads * c.head_dim);
  AttentionArgs a = make_args(c, d, out.data());
  a.kv_type = DType::Q6_K;  // head_dim 64 is not a multiple of 256
  EXPECT_THROW(attention(a, default_pool()), Error);
}

}  // namespace
}  // namespace tf::kernels
