// Rotary position embeddings, applied in place to q or k.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tf {
class ThreadPool;
}

namespace tf::kernels {

enum class RopeLayout {
  // Rotates adjacent pairs (x[2i], x[2i+1]): GPT-J style, and llama.cpp's
  // LLAMA mode (GGUF files permute the q/k weights so that this matches HF).
  Normal,
  // Rotates (x[i], x[i + rot_dim/2]): GPT-NeoX style, HF's rotate_half.
  NeoX,
};

// x: [n_tokens, n_heads, head_dim], token rows token_stride floats apart
// (0: n_heads·head_dim), e.g. the q part of a fused qkv projection.
// Pair i (i < rot_dim/2) of every head of token t turns by the angle
// pos[t]·inv_freq[i]; dims from rot_dim on are left alone (partial rotary).
// As HF computes it: the angle is the f32 product, cos and sin are taken in
// f32 and multiplied by attn_factor (YaRN's mscale, else 1), and each output
// is x·cos ∓ y·sin with both products rounded (no fused multiply-add).
// inv_freq (rot_dim/2 values) already carries any scaling (linear, YaRN,
// llama3): that is the caller's business. rot_dim must be even, <= head_dim.
void rope(float* x, size_t n_tokens, size_t n_heads, size_t head_dim, size_t rot_dim, const int32_t* pos,
          const float* inv_freq, RopeLayout layout, float attn_factor = 1.0f, size_t token_stride = 0,
          ThreadPool* pool = nullptr);

// HF's default inverse frequencies: inv_freq[i] = 1 / base^(2i / rot_dim) in
// f32, as `1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))`.
void rope_inv_freq(float base, size_t rot_dim, float* inv_freq);

}  // namespace tf::kernels
