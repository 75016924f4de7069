// Scaled dot-product attention of one layer against a KV cache.
//
// KV cache layout: [n_kv_heads][capacity][head_dim] for K and for V, f32 or
// f16: the head_dim values of one position are contiguous, and so are the
// positions of one head, so a head's keys read like the rows of a weight
// matrix (the dot products run through matmul's kernels) and its values like
// rows to accumulate. Cache slot j holds absolute position j.
#pragma once
#include <cstddef>
#include <optional>
#include <cstdint>

#include "tf/dtype.h"

namespace tf {
class ThreadPool;
}

namespace tf::kernels {

struct AttentionArgs {
  size_t n_q = 0;  // query rows (tokens)
  size_t n_heads = 0, n_kv_heads = 0, head_dim = 0;  // n_heads a multiple of n_kv_heads (GQA / MQA)

  const float* q = nullptr;  // [n_q, n_heads, head_dim], token rows q_stride floats apart (0: n_heads·head_dim)
  size_t q_stride = 0;

  const void* k = nullptr;  // [n_kv_heads][capacity][head_dim] of kv_type
  const void* v = nullptr;  // same layout as k, of v_type (if set) or kv_type
  // F32, F16, or a block type of matmul (Q8_0, Q4_0, … with head_dim a
  // multiple of its block size: rows of head_dim elements are then
  // row_bytes(type, head_dim) long). Quantized keys are multiplied as matmul
  // multiplies quantized weights (q quantized as ggml's vec_dot_type, as
  // llama.cpp does); quantized values are dequantized for P·V.
  DType kv_type = DType::F32;
  std::optional<DType> v_type;  // V's type when it differs from K's
  size_t kv_head_stride = 0;    // elements from one kv head to the next (capacity·head_dim)
  size_t n_kv = 0;             // positions 0 .. n_kv-1 hold keys and values

  const int32_t* q_pos = nullptr;  // absolute position of each query row; nullptr: n_kv - n_q + i
  bool causal = true;              // query at p sees keys j <= p
  int32_t window = 0;              // > 0: sliding window, query at p sees only j > p - window
  float scale = 0.0f;              // scores = q·k · scale; 0: 1/sqrt(head_dim)
  float softcap = 0.0f;            // > 0: scores = softcap·tanh(scores / softcap) (Gemma 2)

  // Encoders. key_mask[j] == 0 hides key j from every query (padding);
  // nullptr: all keys visible.
  const uint8_t* key_mask = nullptr;
  // Additive score terms (relative positions: DeBERTa's c2p + p2c, T5's
  // buckets), added after scale and soft-cap: score(h, i, j) +=
  // score_bias[h·bias_head_stride + i·bias_row_stride + j]. nullptr: none.
  const float* score_bias = nullptr;
  size_t bias_head_stride = 0, bias_row_stride = 0;

  float* out = nullptr;  // [n_q, n_heads, head_dim], rows out_stride floats apart (0: n_heads·head_dim)
  size_t out_stride = 0;
};

// out = softmax(mask(softcap(q·kᵀ·scale) + bias))·v, f32 accumulation throughout.
// A query that sees no key (possible only with a window or an empty cache)
// gets zeros. Threads split kv-head groups and query rows. level as in matmul.
void attention(const AttentionArgs& args, ThreadPool& pool, int level = -1);

// The naive version: one query, one head, one key at a time, in f32.
void attention_ref(const AttentionArgs& args);

}  // namespace tf::kernels
