// Trainable GPT-2 and LLaMA-family decoders (see tf/train_model.h). The
// parameters are registered once, in checkpoint order, under their HF names;
// init() fills them from a seeded RNG, load() from a model file.
#include "tf/train_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "kernels/cpu/rope.h"
#include "models/tensor_names.h"
#include "models/weights.h"
#include "tf/error.h"
#include "tf/json_file.h"
#include "tf/rng.h"
#include "tf/safetensors.h"
#include "tf/train_ops.h"

namespace tf::train {

namespace {

enum class Family { Gpt2, Llama };

// How a parameter is initialised (transformers' _init_weights).
enum class Init { Normal, ResidualNormal, Zeros, Ones };

struct Layer {
  // GPT-2: LayerNorms with bias, fused c_attn, Conv1D [in, out] weights.
  // LLaMA: RMSNorms (weight only), separate q/k/v, gated MLP, Linear [out, in].
  Var attn_norm_w, attn_norm_b, ffn_norm_w, ffn_norm_b;
  Var qkv_w, qkv_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
  Var up_w, up_b, gate_w, gate_b, down_w, down_b;
};

Var activate(hf::Activation a, const Var& x) {
  switch (a) {
    case hf::Activation::Gelu: return gelu(x);
    case hf::Activation::GeluTanh: return gelu_tanh(x);
    case hf::Activation::Silu: return silu(x);
    case hf::Activation::Relu: return relu(x);
    case hf::Activation::Tanh: return tanh(x);
    default: fail("train: activation ", hf::activation_name(a), " is not supported");
  }
}

// A config.json for a model read from GGUF (which has none), with the fields
// transformers needs to rebuild it.
nlohmann::json json_from_config(const hf::Config& c, Family family) {
  nlohmann::json j;
  j["model_type"] = std::string(hf::arch_name(c.arch));
  j["vocab_size"] = c.vocab_size;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  if (family == Family::Gpt2) {
    j["architectures"] = {"GPT2LMHeadModel"};
    j["n_embd"] = c.hidden_size;
    j["n_layer"] = c.num_layers;
    j["n_head"] = c.num_heads;
    j["n_inner"] = c.intermediate_size;
    j["n_positions"] = c.max_position_embeddings;
    j["n_ctx"] = c.max_position_embeddings;
    j["layer_norm_epsilon"] = c.norm_eps;
    j["activation_function"] = c.activation == hf::Activation::Gelu ? "gelu" : "gelu_new";
  } else {
    switch (c.arch) {
      case hf::Arch::Qwen2: j["architectures"] = {"Qwen2ForCausalLM"}; break;  // q/k/v biases are implied
      case hf::Arch::Mistral:
        j["architectures"] = {"MistralForCausalLM"};
        j["sliding_window"] = c.sliding_window > 0 ? nlohmann::json(c.sliding_window) : nlohmann::json(nullptr);
        break;
      default:
        j["architectures"] = {"LlamaForCausalLM"};
        j["model_type"] = "llama";
        j["attention_bias"] = c.qkv_bias;
    }
    j["hidden_size"] = c.hidden_size;
    j["intermediate_size"] = c.intermediate_size;
    j["num_hidden_layers"] = c.num_layers;
    j["num_attention_heads"] = c.num_heads;
    j["num_key_value_heads"] = c.num_kv_heads;
    j["head_dim"] = c.head_dim;
    j["max_position_embeddings"] = c.max_position_embeddings;
    j["rms_norm_eps"] = c.norm_eps;
    j["rope_theta"] = c.rope.theta;
    j["hidden_act"] = "silu";
  }
  return j;
}

}  // namespace

struct LanguageModel::Impl {
  nlohmann::json json;
  hf::Config config;
  Family family = Family::Gpt2;
  Var wte, wpe, norm_w, norm_b, lm_head;  // lm_head undefined when tied
  std::vector<Layer> layers;
  std::vector<NamedParam> params;
  std::vector<Init> inits;
  std::vector<float> inv_freq;
  std::vector<int64_t> windows;  // per layer: sliding window, 0 = full attention
  float attn_scale = 1.0f;
  float embd_drop = 0.0f, attn_drop = 0.0f, resid_drop = 0.0f;
  bool training = false;
  Rng dropout_rng{0};

  float drop_prob(const char* key, double fallback) const {
    const double p = json.contains(key) && json[key].is_number() ? json[key].get<double>() : fallback;
    if (p < 0 || p >= 1) fail("train: ", config.origin, ": ", key, " = ", p, " outside [0, 1)");
    return float(p);
  }
  Var drop(const Var& x, float p) { return training && p > 0 ? dropout(x, p, dropout_rng) : x; }
  AttentionDropout attn_dropout() {
    return training && attn_drop > 0 ? AttentionDropout{attn_drop, dropout_rng.next_u64()} : AttentionDropout{};
  }

  Var param(const std::string& name, Shape shape, Init init) {
    Var v = Var::parameter(Tensor::zeros(DType::F32, std::move(shape)), name);
    params.push_back({name, v});
    inits.push_back(init);
    return v;
  }

  // Registers every parameter (zeros) in checkpoint order.
  void build();
  void initialise(uint64_t seed);
  void fill_from(const models::Weights& w);
  Var hidden(std::span<const int32_t> ids, int64_t batch, int64_t seq);
  const Var& head() const { return lm_head.defined() ? lm_head : wte; }
};

void LanguageModel::Impl::build() {
  const hf::Config& c = config;
  switch (c.arch) {
    case hf::Arch::Gpt2: family = Family::Gpt2; break;
    case hf::Arch::Llama: case hf::Arch::Mistral: case hf::Arch::Qwen2: family = Family::Llama; break;
    default: fail("train: model type ", hf::arch_name(c.arch), " is not trainable yet (gpt2, llama, mistral, qwen2 are)");
  }
  const int64_t D = c.hidden_size, L = c.num_layers, F = c.intermediate_size, V = c.vocab_size;
  if (D <= 0 || L <= 0 || V <= 0 || c.num_heads <= 0 || c.head_dim <= 0 || c.num_kv_heads <= 0 ||
      c.num_heads % c.num_kv_heads != 0)
    fail("train: ", c.origin, ": incomplete or inconsistent sizes");
  if (c.embedding_size != D) fail("train: ", c.origin, ": factorised embeddings are not supported");
  if (c.embedding_multiplier != 1 || c.lm_head_input_scale != 1 || c.norm_unit_offset || c.qk_norm ||
      c.parallel_residual || c.attn_logit_softcapping != 0 || c.final_logit_softcapping != 0)
    fail("train: ", c.origin, ": this variant of ", hf::arch_name(c.arch), " is not supported");
  if (family == Family::Gpt2 && (c.sliding_window > 0 || std::count(c.layer_types.begin(), c.layer_types.end(),
                                                                      hf::AttentionKind::Sliding) > 0))
    fail("train: ", c.origin, ": sliding-window attention in gpt2");
  attn_scale = float(c.attn_scale > 0 ? c.attn_scale : 1.0 / std::sqrt(double(c.head_dim)));
  if (family == Family::Gpt2) {
    embd_drop = drop_prob("embd_pdrop", 0.1);
    attn_drop = drop_prob("attn_pdrop", 0.1);
    resid_drop = drop_prob("resid_pdrop", 0.1);
  } else {
    attn_drop = drop_prob("attention_dropout", 0.0);
  }
  const int64_t q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;

  if (family == Family::Gpt2) {
    if (q_dim != D) fail("train: ", c.origin, ": n_embd must equal heads·head_dim");
    if (c.max_position_embeddings <= 0) fail("train: ", c.origin, ": n_positions missing");
    wte = param("transformer.wte.weight", {V, D}, Init::Normal);
    wpe = param("transformer.wpe.weight", {c.max_position_embeddings, D}, Init::Normal);
    for (int64_t i = 0; i < L; ++i) {
      const std::string p = "transformer.h." + std::to_string(i) + ".";
      Layer l;
      l.attn_norm_w = param(p + "ln_1.weight", {D}, Init::Ones);
      l.attn_norm_b = param(p + "ln_1.bias", {D}, Init::Zeros);
      l.qkv_w = param(p + "attn.c_attn.weight", {D, 3 * D}, Init::Normal);
      l.qkv_b = param(p + "attn.c_attn.bias", {3 * D}, Init::Zeros);
      l.o_w = param(p + "attn.c_proj.weight", {D, D}, Init::ResidualNormal);
      l.o_b = param(p + "attn.c_proj.bias", {D}, Init::Zeros);
      l.ffn_norm_w = param(p + "ln_2.weight", {D}, Init::Ones);
      l.ffn_norm_b = param(p + "ln_2.bias", {D}, Init::Zeros);
      l.up_w = param(p + "mlp.c_fc.weight", {D, F}, Init::Normal);
      l.up_b = param(p + "mlp.c_fc.bias", {F}, Init::Zeros);
      l.down_w = param(p + "mlp.c_proj.weight", {F, D}, Init::ResidualNormal);
      l.down_b = param(p + "mlp.c_proj.bias", {D}, Init::Zeros);
      layers.push_back(std::move(l));
    }
    norm_w = param("transformer.ln_f.weight", {D}, Init::Ones);
    norm_b = param("transformer.ln_f.bias", {D}, Init::Zeros);
  } else {
    if (c.norm != hf::Norm::RmsNorm || !c.gated_mlp) fail("train: ", c.origin, ": expected RMSNorm and a gated MLP");
    if (c.rope.type != hf::RopeType::Default && c.rope.type != hf::RopeType::Linear)
      fail("train: ", c.origin, ": rope type ", hf::rope_type_name(c.rope.type), " is not supported");
    inv_freq.resize(size_t(c.rope.rotary_dims / 2));
    kernels::rope_inv_freq(float(c.rope.theta), size_t(c.rope.rotary_dims), inv_freq.data());
    if (c.rope.type == hf::RopeType::Linear)
      for (float& f : inv_freq) f = float(f / c.rope.factor);
    wte = param("model.embed_tokens.weight", {V, D}, Init::Normal);
    for (int64_t i = 0; i < L; ++i) {
      // as lib/models/decoder.cpp reads the config
      const bool sliding = c.layer_types.empty() ? c.sliding_window > 0 : c.layer_types[size_t(i)] == hf::AttentionKind::Sliding;
      windows.push_back(sliding ? c.sliding_window : 0);
      const std::string p = "model.layers." + std::to_string(i) + ".";
      Layer l;
      l.attn_norm_w = param(p + "input_layernorm.weight", {D}, Init::Ones);
      l.q_w = param(p + "self_attn.q_proj.weight", {q_dim, D}, Init::Normal);
      if (c.qkv_bias) l.q_b = param(p + "self_attn.q_proj.bias", {q_dim}, Init::Zeros);
      l.k_w = param(p + "self_attn.k_proj.weight", {kv_dim, D}, Init::Normal);
      if (c.qkv_bias) l.k_b = param(p + "self_attn.k_proj.bias", {kv_dim}, Init::Zeros);
      l.v_w = param(p + "self_attn.v_proj.weight", {kv_dim, D}, Init::Normal);
      if (c.qkv_bias) l.v_b = param(p + "self_attn.v_proj.bias", {kv_dim}, Init::Zeros);
      l.o_w = param(p + "self_attn.o_proj.weight", {D, q_dim}, Init::Normal);
      if (c.o_bias) l.o_b = param(p + "self_attn.o_proj.bias", {D}, Init::Zeros);
      l.ffn_norm_w = param(p + "post_attention_layernorm.weight", {D}, Init::Ones);
      l.gate_w = param(p + "mlp.gate_proj.weight", {F, D}, Init::Normal);
      if (c.mlp_bias) l.gate_b = param(p + "mlp.gate_proj.bias", {F}, Init::Zeros);
      l.up_w = param(p + "mlp.up_proj.weight", {F, D}, Init::Normal);
      if (c.mlp_bias) l.up_b = param(p + "mlp.up_proj.bias", {F}, Init::Zeros);
      l.down_w = param(p + "mlp.down_proj.weight", {D, F}, Init::Normal);
      if (c.mlp_bias) l.down_b = param(p + "mlp.down_proj.bias", {D}, Init::Zeros);
      layers.push_back(std::move(l));
    }
    norm_w = param("model.norm.weight", {D}, Init::Ones);
  }
  if (!c.tie_word_embeddings) lm_head = param("lm_head.weight", {V, D}, Init::Normal);
}

void LanguageModel::Impl::initialise(uint64_t seed) {
  double std_dev = 0.02;
  if (json.contains("initializer_range") && json["initializer_range"].is_number())
    std_dev = json["initializer_range"].get<double>();
  const double residual_std = std_dev / std::sqrt(2.0 * double(config.num_layers));
  Rng rng(seed);
  for (size_t i = 0; i < params.size(); ++i) {
    float* p = params[i].var.mutable_data();
    const int64_t n = params[i].var.numel();
    switch (inits[i]) {
      case Init::Zeros: std::fill(p, p + n, 0.0f); break;
      case Init::Ones: std::fill(p, p + n, 1.0f); break;
      case Init::Normal:
      case Init::ResidualNormal: {
        const float s = float(inits[i] == Init::Normal ? std_dev : residual_std);
        for (int64_t j = 0; j < n; ++j) p[j] = s * rng.normal();
      }
    }
  }
  // transformers zeroes the padding token's embedding row (nn.Embedding padding_idx).
  if (family == Family::Llama && config.pad_token_id && *config.pad_token_id >= 0 &&
      *config.pad_token_id < config.vocab_size) {
    float* row = wte.mutable_data() + *config.pad_token_id * config.hidden_size;
    std::fill(row, row + config.hidden_size, 0.0f);
  }
}

void LanguageModel::Impl::fill_from(const models::Weights& w) {
  const models::NameTable& names = models::tensor_names(config.arch);
  const bool gguf_llama_order = w.rope_permuted();
  for (NamedParam& np : params) {
    const std::string gguf_name = names.to_gguf(np.name);
    const Tensor* src = gguf_name.empty() ? nullptr : w.find(gguf_name);
    if (!src) fail(w.path(), ": the model has no tensor ", np.name);
    Tensor t = src->dtype() == DType::F32 ? *src : src->to(DType::F32);
    // Back to HF layouts: lib/models turns GPT-2's Conv1D [in, out] weights
    // into [out, in]; llama.cpp's GGUF interleaves LLaMA's q/k rotary rows.
    const bool conv1d = family == Family::Gpt2 && gguf_name.starts_with("blk.") && gguf_name.ends_with(".weight") &&
                        gguf_name.find("_norm.") == std::string::npos;
    if (conv1d && t.ndim() == 2) t = t.transpose(0, 1).contiguous();
    if (t.shape() != np.var.shape())
      fail(w.path(), ": ", np.name, " is ", t.shape_string(), ", expected ", shape_string(np.var.shape()));
    t = t.contiguous();
    float* dst = np.var.mutable_data();
    const float* s = t.data_as<float>();
    const bool is_q = gguf_name.find(".attn_q.") != std::string::npos, is_k = gguf_name.find(".attn_k.") != std::string::npos;
    if (gguf_llama_order && (is_q || is_k)) {
      // GGUF row h·hd + 2i + s holds HF row h·hd + s·hd/2 + i.
      const int64_t hd = config.head_dim, heads = is_q ? config.num_heads : config.num_kv_heads;
      const int64_t cols = t.numel() / (heads * hd);
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < hd / 2; ++i)
          for (int64_t half = 0; half < 2; ++half)
            std::memcpy(dst + (h * hd + half * hd / 2 + i) * cols, s + (h * hd + 2 * i + half) * cols,
                        size_t(cols) * sizeof(float));
    } else {
      std::memcpy(dst, s, size_t(t.numel()) * sizeof(float));
    }
  }
}

Var LanguageModel::Impl::hidden(std::span<const int32_t> ids, int64_t batch, int64_t seq) {
  const hf::Config& c = config;
  if (batch <= 0 || seq <= 0 || int64_t(ids.size()) != batch * seq)
    fail("train: ", ids.size(), " token ids for a batch of ", batch, " x ", seq);
  if (c.max_position_embeddings > 0 && seq > c.max_position_embeddings)
    fail("train: sequence length ", seq, " exceeds the model's ", c.max_position_embeddings, " positions");
  const std::vector<int32_t> tokens(ids.begin(), ids.end());
  const float eps = float(c.norm_eps);
  const int64_t D = c.hidden_size, H = c.num_heads, Hkv = c.num_kv_heads;
  Var x = embedding(wte, tokens);
  if (family == Family::Gpt2) {
    std::vector<int32_t> pos(tokens.size());
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = int32_t(int64_t(i) % seq);
    x = drop(add(x, embedding(wpe, pos)), embd_drop);
    for (const Layer& l : layers) {
      const Var qkv = linear_kn(layer_norm(x, l.attn_norm_w, l.attn_norm_b, eps), l.qkv_w, l.qkv_b);
      const Var a = self_attention(slice(qkv, 1, 0, D), slice(qkv, 1, D, 2 * D), slice(qkv, 1, 2 * D, 3 * D), batch, H,
                                   H, attn_scale, true, {}, 0, attn_dropout());
      x = add(x, drop(linear_kn(a, l.o_w, l.o_b), resid_drop));
      const Var m = activate(c.activation, linear_kn(layer_norm(x, l.ffn_norm_w, l.ffn_norm_b, eps), l.up_w, l.up_b));
      x = add(x, drop(linear_kn(m, l.down_w, l.down_b), resid_drop));
    }
    return layer_norm(x, norm_w, norm_b, eps);
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const Var h = rms_norm(x, l.attn_norm_w, eps);
    const Var q = rope(linear(h, l.q_w, l.q_b), batch, H, inv_freq);
    const Var k = rope(linear(h, l.k_w, l.k_b), batch, Hkv, inv_freq);
    const Var v = linear(h, l.v_w, l.v_b);
    x = add(x, linear(self_attention(q, k, v, batch, H, Hkv, attn_scale, true, {}, windows[i], attn_dropout()), l.o_w, l.o_b));
    const Var f = rms_norm(x, l.ffn_norm_w, eps);
    const Var gated = mul(activate(c.activation, linear(f, l.gate_w, l.gate_b)), linear(f, l.up_w, l.up_b));
    x = add(x, linear(gated, l.down_w, l.down_b));
  }
  return rms_norm(x, norm_w, eps);
}

// ---------------------------------------------------------------- LanguageModel

LanguageModel::LanguageModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LanguageModel::~LanguageModel() = default;

std::unique_ptr<LanguageModel> LanguageModel::init(const nlohmann::json& config_json, uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->json = config_json;
  impl->config = hf::parse_config(config_json.dump(), "config.json");
  impl->build();
  impl->initialise(seed);
  impl->dropout_rng = Rng(seed ^ 0xd1b54a32d192ed03ull);
  return std::unique_ptr<LanguageModel>(new LanguageModel(std::move(impl)));
}

std::unique_ptr<LanguageModel> LanguageModel::load(const std::string& path) {
  const models::Weights w = models::Weights::open(path);
  auto impl = std::make_unique<Impl>();
  impl->config = w.config();
  if (w.from_gguf()) {
    switch (impl->config.arch) {
      case hf::Arch::Gpt2: case hf::Arch::Llama: case hf::Arch::Mistral: case hf::Arch::Qwen2: break;
      default: fail("train: ", path, ": model type ", hf::arch_name(impl->config.arch), " is not trainable yet");
    }
    const Family family = impl->config.arch == hf::Arch::Gpt2 ? Family::Gpt2 : Family::Llama;
    impl->json = json_from_config(impl->config, family);
    impl->config = hf::parse_config(impl->json.dump(), path + " (config from GGUF metadata)");
  } else {
    impl->json = read_json_file((std::filesystem::path(path) / "config.json").string());
  }
  // The trainable copies are f32 whatever the file stored.
  impl->json.erase("torch_dtype");
  impl->json["dtype"] = "float32";
  impl->build();
  impl->fill_from(w);
  return std::unique_ptr<LanguageModel>(new LanguageModel(std::move(impl)));
}

const hf::Config& LanguageModel::config() const { return impl_->config; }
void LanguageModel::set_training(bool training) { impl_->training = training; }
bool LanguageModel::training() const { return impl_->training; }
void LanguageModel::set_dropout_seed(uint64_t seed) { impl_->dropout_rng = Rng(seed); }
const nlohmann::json& LanguageModel::config_json() const { return impl_->json; }
std::vector<NamedParam> LanguageModel::parameters() const { return impl_->params; }

std::vector<Var> LanguageModel::parameter_vars() const {
  std::vector<Var> out;
  for (const NamedParam& p : impl_->params) out.push_back(p.var);
  return out;
}

uint64_t LanguageModel::parameter_count() const {
  uint64_t n = 0;
  for (const NamedParam& p : impl_->params) n += uint64_t(p.var.numel());
  return n;
}

Var LanguageModel::logits(std::span<const int32_t> ids, int64_t batch, int64_t seq) {
  return linear(impl_->hidden(ids, batch, seq), impl_->head());
}

Var LanguageModel::loss(std::span<const int32_t> ids, std::span<const int32_t> targets, int64_t batch, int64_t seq) {
  if (targets.size() != ids.size()) fail("train: ", targets.size(), " targets for ", ids.size(), " token ids");
  return linear_cross_entropy(impl_->hidden(ids, batch, seq), impl_->head(), targets);
}

void LanguageModel::save_pretrained(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  safetensors::Writer writer;
  writer.set_metadata("format", "pt");
  for (const NamedParam& p : impl_->params) writer.add(p.name, p.var.value());
  writer.write((std::filesystem::path(dir) / "model.safetensors").string());
  nlohmann::json j = impl_->json;
  j.erase("torch_dtype");
  j["dtype"] = "float32";
  write_json_file((std::filesystem::path(dir) / "config.json").string(), j);
}

}  // namespace tf::train
