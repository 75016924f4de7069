#include "convert/hf_family.h"

#include <filesystem>

#include "convert/hf_vocab.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/log.h"

namespace tf::convert {
using nlohmann::json;

const json* find_hparam(const json& config, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (config.contains(k) && !config[k].is_null()) return &config[k];
  return nullptr;
}

uint32_t hparam_u32(const json& value, const std::string& key) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > int64_t(UINT32_MAX))
    fail("config.json: \"", key, "\" must be a non-negative integer (got ", value.dump(), ")");
  return uint32_t(value.get<int64_t>());
}

const json& require_hparam(const ConvertContext& ctx, std::initializer_list<const char*> keys) {
  const json* v = find_hparam(ctx.config, keys);
  if (!v) fail(ctx.dir, "/config.json: missing ", *keys.begin());
  return *v;
}

uint32_t require_u32(const ConvertContext& ctx, std::initializer_list<const char*> keys) {
  return hparam_u32(require_hparam(ctx, keys), *keys.begin());
}

PlannedTensor HfFamily::renamed(const ConvertContext& ctx, const std::string& hf_name, const std::string& lookup_name,
                                const Shape& shape) const {
  PlannedTensor t;
  t.hf_name = hf_name;
  t.shape = shape;
  t.gguf_name = names().to_gguf(lookup_name);
  if (t.gguf_name.empty()) fail(ctx.dir, ": tensor ", hf_name, " has no GGUF name in the ", arch(), " architecture");
  return t;
}

int layer_index(const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    std::string part = name.substr(start, end - start);
    if (!part.empty() && part.find_first_not_of("0123456789") == std::string::npos && part.size() < 9)
      return std::stoi(part);
    start = end + 1;
  }
  return -1;
}

const json* rope_theta(const json& c) {
  if (const json* t = find_hparam(c, {"rope_theta"})) return t;
  if (c.contains("rope_parameters") && c["rope_parameters"].is_object()) return find_hparam(c["rope_parameters"], {"rope_theta"});
  return nullptr;
}

double partial_rotary(const json& c, std::initializer_list<const char*> keys, double fallback) {
  const json* v = find_hparam(c, keys);
  if (!v && c.contains("rope_parameters") && c["rope_parameters"].is_object())
    v = find_hparam(c["rope_parameters"], {"partial_rotary_factor"});
  if (!v) return fallback;
  if (!v->is_number()) fail("config.json: \"", *keys.begin(), "\" must be a number");
  return v->get<double>();
}

void write_nondefault_freq_base(const ConvertContext& ctx, const std::string& arch, gguf::Writer& w) {
  const json* t = rope_theta(ctx.config);
  if (!t) return;
  if (!t->is_number()) fail(ctx.dir, "/config.json: rope_theta must be a number");
  if (t->get<double>() != 10000.0) w.set(arch + ".rope.freq_base", gguf::Value::f32(t->get<float>()));
}

bool has_tokenizer(const ConvertContext& ctx) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(ctx.dir) / "tokenizer.model") || fs::exists(fs::path(ctx.dir) / "tokenizer.json")) return true;
  log("warning: ", ctx.dir, " has no tokenizer.model or tokenizer.json: writing the model without tokenizer.* "
      "metadata (llama.cpp's converter refuses such a folder; llama.cpp cannot load the file without a vocabulary)");
  return false;
}

void write_gpt2_vocab(const ConvertContext& ctx, gguf::Writer& w) {
  const json* n = find_hparam(ctx.config, {"vocab_size"});
  GgufVocab v = hf_token_list(ctx.dir, n ? hparam_u32(*n, "vocab_size") : 0, "gpt2");
  v.pre = detect_pre_tokenizer(ctx.dir);
  add_special_vocab(ctx.dir, true, v);
  write_vocab(w, v);
}

void write_sentencepiece_vocab(const ConvertContext& ctx, gguf::Writer& w) {
  const json* n = find_hparam(ctx.config, {"vocab_size"});
  GgufVocab v = sentencepiece_vocab(ctx.dir, n ? hparam_u32(*n, "vocab_size") : 0);
  add_special_vocab(ctx.dir, false, v);
  write_vocab(w, v);
}

void write_base_parameters(const ConvertContext& ctx, const std::string& arch, gguf::Writer& w) {
  using gguf::Value;
  const json& c = ctx.config;
  auto u32 = [&](const std::string& key, std::initializer_list<const char*> names, bool required = false) {
    const json* v = find_hparam(c, names);
    if (!v) {
      if (required) fail(ctx.dir, "/config.json: missing ", *names.begin());
      return;
    }
    w.set(arch + "." + key, Value::u32(hparam_u32(*v, *names.begin())));
  };
  auto f32 = [&](const std::string& key, std::initializer_list<const char*> names) {
    const json* v = find_hparam(c, names);
    if (!v) return;
    if (!v->is_number()) fail(ctx.dir, "/config.json: \"", *names.begin(), "\" must be a number");
    w.set(arch + "." + key, Value::f32(v->get<float>()));
  };
  u32("block_count", {"n_layers", "num_hidden_layers", "n_layer", "num_layers"}, true);
  u32("context_length", {"max_position_embeddings", "n_ctx"});
  u32("embedding_length", {"hidden_size", "n_embd"});
  u32("feed_forward_length", {"intermediate_size", "n_inner"});
  u32("attention.head_count", {"num_attention_heads", "n_head"});
  u32("attention.head_count_kv", {"num_key_value_heads"});
  if (find_hparam(c, {"rope_theta"})) {
    f32("rope.freq_base", {"rope_theta"});
  } else if (c.contains("rope_parameters") && c["rope_parameters"].is_object() &&
             c["rope_parameters"].contains("rope_theta") && c["rope_parameters"]["rope_theta"].is_number()) {
    // transformers 5 moved rope_theta into rope_parameters, where llama.cpp's
    // converter (2025-02) does not look; it then relies on the runtime
    // default of 10000. We write the key only when the value differs from
    // that default, so files stay identical to llama.cpp's where it is right
    // and correct where it is not.
    double theta = c["rope_parameters"]["rope_theta"].get<double>();
    if (theta != 10000.0) w.set(arch + ".rope.freq_base", Value::f32(float(theta)));
  }
  f32("attention.layer_norm_rms_epsilon", {"rms_norm_eps"});
  f32("attention.layer_norm_epsilon", {"layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"});
  u32("expert_count", {"num_local_experts"});
  u32("expert_used_count", {"num_experts_per_tok"});
  if (const json* hd = find_hparam(c, {"head_dim"})) {
    w.set(arch + ".attention.key_length", Value::u32(hparam_u32(*hd, "head_dim")));
    w.set(arch + ".attention.value_length", Value::u32(hparam_u32(*hd, "head_dim")));
  }
  w.set("general.file_type", Value::u32(ctx.file_type));
}

std::unique_ptr<HfFamily> family_for(const json& config, const std::string& dir) {
  if (!config.contains("architectures") || !config["architectures"].is_array() || config["architectures"].empty() ||
      !config["architectures"][0].is_string())
    fail(dir, "/config.json: \"architectures\" must list the model class (e.g. [\"LlamaForCausalLM\"])");
  std::string a = config["architectures"][0].get<std::string>();
  if (a == "LlamaForCausalLM" || a == "MistralForCausalLM" || a == "LLaMAForCausalLM") return make_llama_family();
  if (a == "GPT2LMHeadModel" || a == "GPT2Model") return make_gpt2_family();
  if (a == "BertModel" || a == "BertForMaskedLM") return make_bert_family();
  if (a == "Qwen2ForCausalLM") return make_qwen2_family();
  if (a == "Phi3ForCausalLM") return make_phi3_family();
  if (a == "GemmaForCausalLM") return make_gemma_family();
  if (a == "StableLmForCausalLM" || a == "StableLMEpochForCausalLM") return make_stablelm_family();
  if (a == "GPTNeoXForCausalLM") return make_gptneox_family();
  if (a == "FalconForCausalLM" || a == "RWForCausalLM") return make_falcon_family();
  fail(dir, "/config.json: architecture ", a, " is not supported by tf-convert hf yet (supported: LlamaForCausalLM, "
       "MistralForCausalLM, Qwen2ForCausalLM, Phi3ForCausalLM, GemmaForCausalLM, StableLmForCausalLM, "
       "GPTNeoXForCausalLM, FalconForCausalLM, GPT2LMHeadModel, BertModel, BertForMaskedLM)");
}

std::unique_ptr<HfFamily> family_for_arch(const std::string& arch) {
  if (arch == "llama") return make_llama_family();
  if (arch == "gpt2") return make_gpt2_family();
  if (arch == "bert") return make_bert_family();
  if (arch == "qwen2") return make_qwen2_family();
  if (arch == "phi3") return make_phi3_family();
  if (arch == "gemma") return make_gemma_family();
  if (arch == "stablelm") return make_stablelm_family();
  if (arch == "gptneox") return make_gptneox_family();
  if (arch == "falcon") return make_falcon_family();
  fail("architecture '", arch, "' cannot be converted to a Hugging Face folder yet (supported: llama, qwen2, phi3, "
       "gemma, stablelm, gptneox, falcon, gpt2, bert)");
}

}  // namespace tf::convert
