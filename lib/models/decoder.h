// The decoder-only transformer every supported causal LM is an instance of:
// architecture differences are data (norm kind, gating, fused projections,
// parallel residual, rotary layout and size, biases present or not).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/rope.h"
#include "models/layers.h"
#include "models/weights.h"

namespace tf::models {

struct DecoderLayer {
  NormWeights attn_norm, attn_norm_2, ffn_norm;
  Linear q, k, v, qkv, o;
  Linear gate, up, down;  // up holds [gate; up] when gate_up_fused
  int32_t window = 0;     // sliding-window size, 0: full attention
};

struct DecoderModel {
  hf::Config config;
  const Tensor* token_embd = nullptr;
  const Tensor* position_embd = nullptr;  // learned positions (gpt2)
  const Tensor* output = nullptr;         // lm head (token_embd when tied)
  Linear lm_head;                         // output as a prepared Linear
  NormWeights output_norm;
  std::vector<DecoderLayer> layers;

  bool rms = true;                 // RMSNorm, else LayerNorm
  bool norm_one_plus = false;      // RMSNorm scales by (1 + w)
  kernels::Activation act = kernels::Activation::Silu;
  bool gated = true;
  bool gate_up_fused = false;
  kernels::RopeLayout rope_layout = kernels::RopeLayout::NeoX;
  int64_t rot_dim = 0;
  std::vector<float> inv_freq;
  int64_t q_dim = 0, kv_dim = 0;   // n_heads·head_dim, n_kv_heads·head_dim

  // Builds the model from weights; tf::Error for a configuration it cannot run.
  static DecoderModel build(const Weights& weights);
};

}  // namespace tf::models
