// The encoder every supported BERT-family model is an instance of: post-norm
// blocks (attention, add & LayerNorm, MLP, add & LayerNorm) over token +
// position + segment embeddings. Architecture differences are data: a
// factorised embedding projected to the hidden size (electra, albert;
// deberta's embed_proj), layers shared in groups (albert), RoBERTa's position
// numbering, DeBERTa's disentangled relative attention, and which task head
// the checkpoint carries.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"
#include "models/layers.h"
#include "tf/encoder.h"

namespace tf::models {

struct EncoderLayer {
  Linear q, k, v, o, up, down;
  Linear pos_q, pos_k;  // deberta without share_att_key
  NormWeights attn_norm, out_norm;
};

// A head step: y = act(x·Wᵀ + b), then an optional LayerNorm.
enum class HeadAct { None, Tanh, Gelu, GeluTanh, Relu };
struct HeadStep {
  Linear lin;
  HeadAct act = HeadAct::None;
  NormWeights norm;
};

struct EncoderModel {
  hf::Config config;
  EncoderHead head = EncoderHead::None;
  std::string pooling;  // GGUF pooling type ("mean", "cls", "")

  const Tensor* token_embd = nullptr;
  const Tensor* position_embd = nullptr;
  const Tensor* token_types = nullptr;
  NormWeights embd_norm;
  Linear embd_proj;             // factorised embeddings -> hidden
  bool norm_before_proj = true;  // electra/albert; deberta projects first
  std::vector<EncoderLayer> layers;  // distinct layers (albert: one per group)
  std::vector<size_t> layer_of;      // per applied layer: index into layers

  kernels::Activation act = kernels::Activation::Gelu;
  int64_t q_dim = 0;  // n_heads · head_dim

  // DeBERTa relative attention
  std::vector<float> rel_embd;  // [2·span, hidden], normalised when norm_rel_ebd
  int64_t att_span = 0;

  std::vector<HeadStep> mlm, sequence, token, qa;

  static EncoderModel build(const Weights& weights);
};

}  // namespace tf::models
