// Gemma checkpoints -> GGUF arch "gemma" (llama.cpp GemmaModel).
#include <filesystem>

#include "convert/hf_family.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::convert {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

const NameTable& kNames = models::tensor_names(hf::Arch::Gemma);

class GemmaFamily : public HfFamily {
 public:
  std::string arch() const override { return "gemma"; }
  const NameTable& names() const override { return kNames; }

  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& name,
                                        const Shape& shape) const override {
    // llama.cpp's gemma graph always reads the tied embedding, and skips an
    // lm_head (AutoAWQ checkpoints carry one) rather than fail on it.
    if (name == "lm_head.weight" || name.ends_with("rotary_emb.inv_freq")) return {};
    PlannedTensor t = renamed(ctx, name, shape);
    // Gemma's RMSNorm scales by (1 + w); llama.cpp's norm multiplies by the
    // stored weight, so the 1 is baked in.
    if (name.ends_with("norm.weight")) t.add = 1.0f;
    return {t};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    using gguf::Value;
    const json& c = ctx.config;
    auto get = [&](const char* key) -> const json& {
      if (!c.contains(key) || c[key].is_null()) fail(ctx.dir, "/config.json: missing ", key);
      return c[key];
    };
    auto u32 = [&](const char* key) { return Value::u32(hparam_u32(get(key), key)); };
    w.set("gemma.context_length", u32("max_position_embeddings"));
    w.set("gemma.embedding_length", u32("hidden_size"));
    w.set("gemma.block_count", u32("num_hidden_layers"));
    w.set("gemma.feed_forward_length", u32("intermediate_size"));
    w.set("gemma.attention.head_count", u32("num_attention_heads"));
    w.set("gemma.attention.head_count_kv",
          c.contains("num_key_value_heads") ? u32("num_key_value_heads") : u32("num_attention_heads"));
    w.set("gemma.attention.layer_norm_rms_epsilon", Value::f32(get("rms_norm_eps").get<float>()));
    uint32_t head_dim = 0;
    if (c.contains("head_dim") && !c["head_dim"].is_null()) {
      head_dim = hparam_u32(c["head_dim"], "head_dim");
    } else {  // llama.cpp requires head_dim
      uint32_t heads = hparam_u32(get("num_attention_heads"), "num_attention_heads");
      head_dim = heads ? hparam_u32(get("hidden_size"), "hidden_size") / heads : 0;
    }
    w.set("gemma.attention.key_length", Value::u32(head_dim));
    w.set("gemma.attention.value_length", Value::u32(head_dim));
    w.set("general.file_type", Value::u32(ctx.file_type));
    write_nondefault_freq_base(ctx, "gemma", w);
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    if (!has_tokenizer(ctx)) return;
    if (!fs::exists(fs::path(ctx.dir) / "tokenizer.model"))
      fail(ctx.dir, ": a Gemma vocabulary is read from tokenizer.model, which is missing");
    write_sentencepiece_vocab(ctx, w);
    // llama.cpp's second SpecialVocab: of prefix/suffix/middle/fsep/eot only
    // eot has a writer in its gguf-py (2025-02)
    w.set("tokenizer.ggml.eot_token_id", gguf::Value::u32(107));
    w.set("tokenizer.ggml.add_space_prefix", gguf::Value::boolean(false));
  }
};

}  // namespace

std::unique_ptr<HfFamily> make_gemma_family() { return std::make_unique<GemmaFamily>(); }

}  // namespace tf::convert
