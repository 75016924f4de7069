// Phi-3 checkpoints -> GGUF arch "phi3" (llama.cpp Phi3MiniModel).
#include <filesystem>

#include "convert/hf_family.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/json_file.h"

namespace tf::convert {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

const NameTable& kNames = models::tensor_names(hf::Arch::Phi3);

// Long-context Phi-3 (su / longrope / yarn) needs rope_factors_{long,short}
// tensors and a rope.scaling.attn_factor key that llama.cpp writes before all
// other hyperparameters; our inference does not run them either.
void refuse_rope_scaling(const ConvertContext& ctx) {
  const json& c = ctx.config;
  if (c.contains("rope_scaling") && !c["rope_scaling"].is_null())
    fail(ctx.dir, "/config.json: Phi-3 rope_scaling (long-context rope factors) is not supported yet");
  if (c.contains("rope_parameters") && c["rope_parameters"].is_object()) {
    std::string t = c["rope_parameters"].value("rope_type", std::string("default"));
    if (t != "default")
      fail(ctx.dir, "/config.json: Phi-3 rope_type '", t, "' (long-context rope factors) is not supported yet");
  }
}

class Phi3Family : public HfFamily {
 public:
  std::string arch() const override { return "phi3"; }
  const NameTable& names() const override { return kNames; }

  // qkv_proj and gate_up_proj stay fused (attn_qkv, ffn_up = [gate | up]);
  // llama.cpp's phi3 graph slices them, and rotates NeoX-style.
  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& name,
                                        const Shape& shape) const override {
    if (name.ends_with("rotary_emb.inv_freq")) return {};
    PlannedTensor t = renamed(ctx, name, shape);
    return {t};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    using gguf::Value;
    refuse_rope_scaling(ctx);
    const json& c = ctx.config;
    uint32_t n_embd = require_u32(ctx, {"hidden_size", "n_embd"});
    uint32_t n_head = require_u32(ctx, {"num_attention_heads", "n_head"});
    if (n_head == 0) fail(ctx.dir, "/config.json: num_attention_heads must be positive");
    w.set("phi3.context_length", Value::u32(require_u32(ctx, {"n_positions", "max_position_embeddings"})));
    w.set("phi3.rope.scaling.original_context_length", Value::u32(require_u32(ctx, {"original_max_position_embeddings"})));
    w.set("phi3.embedding_length", Value::u32(n_embd));
    w.set("phi3.feed_forward_length", Value::u32(require_u32(ctx, {"intermediate_size"})));
    w.set("phi3.block_count", Value::u32(require_u32(ctx, {"num_hidden_layers", "n_layer"})));
    w.set("phi3.attention.head_count", Value::u32(n_head));
    w.set("phi3.attention.head_count_kv", Value::u32(require_u32(ctx, {"num_key_value_heads", "n_head_kv"})));
    w.set("phi3.attention.layer_norm_rms_epsilon", Value::f32(require_hparam(ctx, {"rms_norm_eps"}).get<float>()));
    // llama.cpp (2025-02) rotates the whole head; Phi-4-mini's partial factor
    // is honoured here (a factor of 1 gives llama.cpp's value).
    double partial = partial_rotary(c, {"partial_rotary_factor"}, 1.0);
    w.set("phi3.rope.dimension_count", Value::u32(uint32_t(double(n_embd / n_head) * partial)));
    // llama.cpp requires a top-level rope_theta; transformers 5 moved it
    const json* theta = rope_theta(c);
    if (!theta || !theta->is_number()) fail(ctx.dir, "/config.json: missing rope_theta");
    w.set("phi3.rope.freq_base", Value::f32(theta->get<float>()));
    w.set("general.file_type", Value::u32(ctx.file_type));
    // 0 (no window) tells Phi-4 apart from Phi-3, as in llama.cpp
    const json* sw = find_hparam(c, {"sliding_window"});
    w.set("phi3.attention.sliding_window", Value::u32(sw ? hparam_u32(*sw, "sliding_window") : 0));
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    if (!has_tokenizer(ctx)) return;
    fs::path tc = fs::path(ctx.dir) / "tokenizer_config.json";
    bool gpt2 = fs::exists(tc) && read_json_file(tc.string()).value("tokenizer_class", std::string()) == "GPT2Tokenizer";
    if (gpt2 || !fs::exists(fs::path(ctx.dir) / "tokenizer.model"))
      write_gpt2_vocab(ctx, w);  // Phi-4
    else
      write_sentencepiece_vocab(ctx, w);
  }
};

}  // namespace

std::unique_ptr<HfFamily> make_phi3_family() { return std::make_unique<Phi3Family>(); }

}  // namespace tf::convert
