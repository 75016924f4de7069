#include "models/tensor_names.h"

#include "tf/error.h"

namespace tf::models {
namespace {

std::pair<std::string, std::string> split_suffix(const std::string& name) {
  size_t dot = name.rfind('.');
  if (dot == std::string::npos) return {name, ""};
  return {name.substr(0, dot), name.substr(dot)};
}

// "3.self_attn.q_proj" -> {"3", "self_attn.q_proj"}
bool split_layer(const std::string& rest, std::string& index, std::string& module) {
  size_t dot = rest.find('.');
  if (dot == std::string::npos || dot == 0 || rest.find_first_not_of("0123456789") != dot) return false;
  index = rest.substr(0, dot);
  module = rest.substr(dot + 1);
  return true;
}

const NameTable kLlama = {
    "model.layers.",
    {{"input_layernorm", "attn_norm"},
     {"self_attn.q_proj", "attn_q"},
     {"self_attn.k_proj", "attn_k"},
     {"self_attn.v_proj", "attn_v"},
     {"self_attn.o_proj", "attn_output"},
     {"self_attn.qkv_proj", "attn_qkv"},  // phi3
     {"post_attention_layernorm", "ffn_norm"},
     {"mlp.gate_proj", "ffn_gate"},
     {"mlp.up_proj", "ffn_up"},
     {"mlp.gate_up_proj", "ffn_up"},      // phi3: gate and up fused, gate first
     {"mlp.down_proj", "ffn_down"}},
    {{"model.embed_tokens", "token_embd"}, {"lm_head", "output"}, {"model.norm", "output_norm"}},
};

const NameTable kGpt2 = {
    "transformer.h.",
    {{"ln_1", "attn_norm"},
     {"attn.c_attn", "attn_qkv"},
     {"attn.c_proj", "attn_output"},
     {"ln_2", "ffn_norm"},
     {"mlp.c_fc", "ffn_up"},
     {"mlp.c_proj", "ffn_down"}},
    {{"transformer.wte", "token_embd"}, {"transformer.wpe", "position_embd"}, {"transformer.ln_f", "output_norm"},
     {"lm_head", "output"}},  // GPT-2's head is tied in transformers; llama.cpp's GGUF stores a copy as output
};

const NameTable kGptNeoX = {
    "gpt_neox.layers.",
    {{"input_layernorm", "attn_norm"},
     {"post_attention_layernorm", "ffn_norm"},
     {"attention.query_key_value", "attn_qkv"},
     {"attention.dense", "attn_output"},
     {"mlp.dense_h_to_4h", "ffn_up"},
     {"mlp.dense_4h_to_h", "ffn_down"}},
    {{"gpt_neox.embed_in", "token_embd"}, {"embed_out", "output"}, {"gpt_neox.final_layer_norm", "output_norm"}},
};

const NameTable kFalcon = {
    "transformer.h.",
    {{"input_layernorm", "attn_norm"},
     {"ln_attn", "attn_norm"},
     {"ln_mlp", "attn_norm_2"},
     {"self_attention.query_key_value", "attn_qkv"},
     {"self_attention.dense", "attn_output"},
     {"mlp.dense_h_to_4h", "ffn_up"},
     {"mlp.dense_4h_to_h", "ffn_down"}},
    {{"transformer.word_embeddings", "token_embd"}, {"lm_head", "output"}, {"transformer.ln_f", "output_norm"}},
};

const NameTable kBert = {
    "encoder.layer.",
    {{"attention.self.query", "attn_q"},
     {"attention.self.key", "attn_k"},
     {"attention.self.value", "attn_v"},
     {"attention.output.dense", "attn_output"},
     {"attention.output.LayerNorm", "attn_output_norm"},
     {"intermediate.dense", "ffn_up"},
     {"output.dense", "ffn_down"},
     {"output.LayerNorm", "layer_output_norm"}},
    {{"embeddings.word_embeddings", "token_embd"},
     {"embeddings.position_embeddings", "position_embd"},
     {"embeddings.token_type_embeddings", "token_types"},
     {"embeddings.LayerNorm", "token_embd_norm"}},
};

// The encoders below have no llama.cpp names; theirs follow kBert's pattern
// (blk.N.attn_q ... layer_output_norm) so that one encoder reads them all.
// Names are relative to the base model (the "roberta." etc. prefix of a task
// checkpoint is removed first); task heads keep their HF names.
const NameTable kElectra = {
    kBert.layer_prefix, kBert.layer,
    {{"embeddings.word_embeddings", "token_embd"},
     {"embeddings.position_embeddings", "position_embd"},
     {"embeddings.token_type_embeddings", "token_types"},
     {"embeddings.LayerNorm", "token_embd_norm"},
     {"embeddings_project", "token_embd_proj"}},
};

const NameTable kDistilBert = {
    "transformer.layer.",
    {{"attention.q_lin", "attn_q"},
     {"attention.k_lin", "attn_k"},
     {"attention.v_lin", "attn_v"},
     {"attention.out_lin", "attn_output"},
     {"sa_layer_norm", "attn_output_norm"},
     {"ffn.lin1", "ffn_up"},
     {"ffn.lin2", "ffn_down"},
     {"output_layer_norm", "layer_output_norm"}},
    {{"embeddings.word_embeddings", "token_embd"},
     {"embeddings.position_embeddings", "position_embd"},
     {"embeddings.LayerNorm", "token_embd_norm"}},
};

// ALBERT shares one layer per group: blk.G is group G's (single) layer
// (inner_group_num 1, as every released ALBERT).
const NameTable kAlbert = {
    "encoder.albert_layer_groups.",
    {{"albert_layers.0.attention.query", "attn_q"},
     {"albert_layers.0.attention.key", "attn_k"},
     {"albert_layers.0.attention.value", "attn_v"},
     {"albert_layers.0.attention.dense", "attn_output"},
     {"albert_layers.0.attention.LayerNorm", "attn_output_norm"},
     {"albert_layers.0.ffn", "ffn_up"},
     {"albert_layers.0.ffn_output", "ffn_down"},
     {"albert_layers.0.full_layer_layer_norm", "layer_output_norm"}},
    {{"embeddings.word_embeddings", "token_embd"},
     {"embeddings.position_embeddings", "position_embd"},
     {"embeddings.token_type_embeddings", "token_types"},
     {"embeddings.LayerNorm", "token_embd_norm"},
     {"encoder.embedding_hidden_mapping_in", "token_embd_proj"}},
};

const NameTable kDebertaV2 = {
    kBert.layer_prefix,
    {{"attention.self.query_proj", "attn_q"},
     {"attention.self.key_proj", "attn_k"},
     {"attention.self.value_proj", "attn_v"},
     {"attention.self.pos_key_proj", "attn_pos_k"},
     {"attention.self.pos_query_proj", "attn_pos_q"},
     {"attention.output.dense", "attn_output"},
     {"attention.output.LayerNorm", "attn_output_norm"},
     {"intermediate.dense", "ffn_up"},
     {"output.dense", "ffn_down"},
     {"output.LayerNorm", "layer_output_norm"}},
    {{"embeddings.word_embeddings", "token_embd"},
     {"embeddings.position_embeddings", "position_embd"},
     {"embeddings.token_type_embeddings", "token_types"},
     {"embeddings.LayerNorm", "token_embd_norm"},
     {"embeddings.embed_proj", "token_embd_proj"},
     {"encoder.rel_embeddings", "rel_embd"},
     {"encoder.LayerNorm", "rel_embd_norm"}},
};

}  // namespace

std::string NameTable::to_gguf(const std::string& hf_name) const {
  auto [module, suffix] = split_suffix(hf_name);
  if (suffix != ".weight" && suffix != ".bias") return "";
  for (const auto& [hf, gg] : global)
    if (module == hf) return gg + suffix;
  if (module.rfind(layer_prefix, 0) != 0) return "";
  std::string index, rest;
  if (!split_layer(module.substr(layer_prefix.size()), index, rest)) return "";
  for (const auto& [hf, gg] : layer)
    if (rest == hf) return "blk." + index + "." + gg + suffix;
  return "";
}

std::string NameTable::to_hf(const std::string& gguf_name) const {
  auto [module, suffix] = split_suffix(gguf_name);
  if (suffix != ".weight" && suffix != ".bias") return "";
  for (const auto& [hf, gg] : global)
    if (module == gg) return hf + suffix;
  if (module.rfind("blk.", 0) != 0) return "";
  std::string index, rest;
  if (!split_layer(module.substr(4), index, rest)) return "";
  for (const auto& [hf, gg] : layer)
    if (rest == gg) return layer_prefix + index + "." + hf + suffix;
  return "";
}

const NameTable& tensor_names(hf::Arch arch) {
  switch (arch) {
    case hf::Arch::Llama:
    case hf::Arch::Mistral:
    case hf::Arch::Qwen2:
    case hf::Arch::Phi3:
    case hf::Arch::Gemma:
    case hf::Arch::Gemma2:
    case hf::Arch::StableLm: return kLlama;
    case hf::Arch::Gpt2: return kGpt2;
    case hf::Arch::GptNeoX: return kGptNeoX;
    case hf::Arch::Falcon: return kFalcon;
    case hf::Arch::Bert:
    case hf::Arch::Roberta: return kBert;
    case hf::Arch::Electra: return kElectra;
    case hf::Arch::DistilBert: return kDistilBert;
    case hf::Arch::Albert: return kAlbert;
    case hf::Arch::DebertaV2: return kDebertaV2;
    default: fail("no tensor name table for model type ", hf::arch_name(arch));
  }
}

}  // namespace tf::models
