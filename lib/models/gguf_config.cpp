// hf::Config from llama.cpp's GGUF metadata: what each architecture's keys
// mean, and what llama.cpp assumes where a key is absent.
#include <cmath>

#include "models/weights.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::models {

hf::Config config_from_gguf(const gguf::File& f) {
  std::string a = f.architecture();
  if (a.empty()) fail(f.path(), ": no general.architecture");
  auto u = [&](const std::string& key) { return int64_t(f.get(a + "." + key).as_u64()); };
  auto opt_u = [&](const std::string& key, int64_t fallback) { return int64_t(f.get_u64(a + "." + key, uint64_t(fallback))); };
  auto opt_f = [&](const std::string& key, double fallback) { return f.get_f64(a + "." + key, fallback); };

  hf::Config c;
  c.origin = f.path();
  c.model_type = a;
  c.num_layers = u("block_count");
  c.hidden_size = u("embedding_length");
  c.embedding_size = c.hidden_size;
  c.num_heads = u("attention.head_count");
  c.num_kv_heads = opt_u("attention.head_count_kv", c.num_heads);
  c.head_dim = opt_u("attention.key_length", c.num_heads ? c.hidden_size / c.num_heads : 0);
  c.intermediate_size = opt_u("feed_forward_length", 4 * c.hidden_size);
  c.max_position_embeddings = opt_u("context_length", 2048);
  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) fail(f.path(), ": no token_embd.weight");
  c.vocab_size = int64_t(embd->shape()[0]);
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  c.rope.type = hf::RopeType::Default;
  c.rope.theta = opt_f("rope.freq_base", 10000.0);
  c.rope.rotary_dims = opt_u("rope.dimension_count", c.head_dim);
  if (f.find(a + ".rope.scaling.type")) {
    std::string t = f.get(a + ".rope.scaling.type").as_string();
    if (t == "linear") {
      c.rope.type = hf::RopeType::Linear;
      c.rope.factor = opt_f("rope.scaling.factor", 1.0);
    } else if (t != "none") {
      fail(f.path(), ": ", a, ".rope.scaling.type '", t, "' is not supported yet");
    }
  }
  if (f.find_tensor("rope_factors_long.weight") || f.find_tensor("rope_factors_short.weight"))
    fail(f.path(), ": rope_factors_long/short (Phi-3 long-context rope) are not supported yet");
  if (f.find_tensor("rope_freqs.weight")) fail(f.path(), ": rope_freqs (Llama 3 rope scaling) is not supported yet");
  c.sliding_window = opt_u("attention.sliding_window", 0);
  if (f.find("tokenizer.ggml.bos_token_id")) c.bos_token_id = int64_t(f.get("tokenizer.ggml.bos_token_id").as_u64());
  if (f.find("tokenizer.ggml.eos_token_id"))
    c.eos_token_ids.push_back(int64_t(f.get("tokenizer.ggml.eos_token_id").as_u64()));

  auto layer_norm = [&] {
    c.norm = hf::Norm::LayerNorm;
    c.norm_eps = opt_f("attention.layer_norm_epsilon", 1e-5);
  };
  auto rms_norm = [&] {
    c.norm = hf::Norm::RmsNorm;
    c.norm_eps = opt_f("attention.layer_norm_rms_epsilon", 1e-5);
  };
  if (a == "llama" || a == "qwen2") {
    c.arch = a == "llama" ? hf::Arch::Llama : hf::Arch::Qwen2;
    rms_norm();
    c.activation = hf::Activation::Silu;
    c.gated_mlp = true;
  } else if (a == "phi3") {
    c.arch = hf::Arch::Phi3;
    rms_norm();
    c.activation = hf::Activation::Silu;
    c.gated_mlp = true;
  } else if (a == "gemma") {
    c.arch = hf::Arch::Gemma;
    rms_norm();
    c.activation = hf::Activation::GeluTanh;
    c.gated_mlp = true;
    c.embedding_multiplier = std::sqrt(double(c.hidden_size));
    c.tie_word_embeddings = true;
  } else if (a == "stablelm") {
    c.arch = hf::Arch::StableLm;
    layer_norm();
    c.activation = hf::Activation::Silu;
    c.gated_mlp = true;
    // llama.cpp's stablelm graph ignores use_parallel_residual (its converter
    // writes true when the config omits it): a block without ffn_norm runs
    // the MLP in parallel on the attention input.
    c.parallel_residual = f.find_tensor("blk.0.ffn_norm.weight") == nullptr;
  } else if (a == "gptneox") {
    c.arch = hf::Arch::GptNeoX;
    layer_norm();
    c.activation = hf::Activation::Gelu;
    c.parallel_residual = f.get_bool(a + ".use_parallel_residual", true);
  } else if (a == "falcon") {
    c.arch = hf::Arch::Falcon;
    layer_norm();
    c.activation = hf::Activation::Gelu;
    c.parallel_residual = true;
    c.parallel_norms = f.find_tensor("blk.0.attn_norm_2.weight") ? 2 : 1;
  } else if (a == "gpt2") {
    c.arch = hf::Arch::Gpt2;
    layer_norm();
    c.activation = hf::Activation::GeluTanh;
    c.learned_positions = true;
    c.rope.type = hf::RopeType::None;
    c.rope.rotary_dims = 0;
    // llama.cpp writes the tied embedding as output.weight too
    c.tie_word_embeddings = false;
  } else if (a == "bert") {
    c.arch = hf::Arch::Bert;
    layer_norm();
    c.norm_eps = opt_f("attention.layer_norm_epsilon", 1e-12);
    c.activation = hf::Activation::Gelu;
    c.learned_positions = true;
    c.pre_norm = false;
    c.rope.type = hf::RopeType::None;
    c.rope.rotary_dims = 0;
    c.type_vocab_size = int64_t(f.get_u64("tokenizer.ggml.token_type_count", 2));
  } else {
    fail(f.path(), ": architecture '", a, "' is not supported");
  }
  if (c.head_dim <= 0 || c.num_heads <= 0 || c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
    fail(f.path(), ": inconsistent attention shape (heads ", c.num_heads, ", kv heads ", c.num_kv_heads, ")");
  if (c.rope.rotary_dims > c.head_dim || c.rope.rotary_dims % 2 != 0)
    fail(f.path(), ": ", a, ".rope.dimension_count ", c.rope.rotary_dims, " does not fit head size ", c.head_dim);
  return c;
}

}  // namespace tf::models
