// StableLM checkpoints -> GGUF arch "stablelm" (llama.cpp StableLMModel).
#include "convert/hf_family.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::convert {
namespace {
using nlohmann::json;

const NameTable& kNames = models::tensor_names(hf::Arch::StableLm);

class StableLmFamily : public HfFamily {
 public:
  std::string arch() const override { return "stablelm"; }
  const NameTable& names() const override { return kNames; }

  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& name,
                                        const Shape& shape) const override {
    if (name.ends_with("rotary_emb.inv_freq")) return {};
    // llama.cpp stacks the per-head norms (q_layernorm.norms.K) into one 2-D
    // attn_q_norm / attn_k_norm; neither that nor their inference is done here.
    if (name.find("_layernorm.norms.") != std::string::npos)
      fail(ctx.dir, ": ", name, ": StableLM per-head q/k layer norms (qk_layernorm) are not supported yet");
    PlannedTensor t = renamed(ctx, name, shape);
    return {t};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    using gguf::Value;
    const json& c = ctx.config;
    uint32_t n_embd = require_u32(ctx, {"hidden_size"});
    uint32_t n_head = require_u32(ctx, {"num_attention_heads"});
    if (n_head == 0) fail(ctx.dir, "/config.json: num_attention_heads must be positive");
    w.set("stablelm.context_length", Value::u32(require_u32(ctx, {"max_position_embeddings"})));
    w.set("stablelm.embedding_length", Value::u32(n_embd));
    w.set("stablelm.block_count", Value::u32(require_u32(ctx, {"num_hidden_layers"})));
    w.set("stablelm.feed_forward_length", Value::u32(require_u32(ctx, {"intermediate_size"})));
    // transformers' default 0.25 when neither key is given (llama.cpp requires one)
    double partial = partial_rotary(c, {"partial_rotary_factor", "rope_pct"}, 0.25);
    w.set("stablelm.rope.dimension_count", Value::u32(uint32_t(partial * double(n_embd / n_head))));
    w.set("stablelm.attention.head_count", Value::u32(n_head));
    w.set("stablelm.attention.head_count_kv", Value::u32(require_u32(ctx, {"num_key_value_heads"})));
    // llama.cpp: the key's truthiness when present (null -> false), else true
    bool par = !c.contains("use_parallel_residual") ||
               (c["use_parallel_residual"].is_boolean() && c["use_parallel_residual"].get<bool>());
    w.set("stablelm.use_parallel_residual", Value::boolean(par));
    w.set("stablelm.attention.layer_norm_epsilon", Value::f32(require_hparam(ctx, {"layer_norm_eps", "norm_eps"}).get<float>()));
    w.set("general.file_type", Value::u32(ctx.file_type));
    write_nondefault_freq_base(ctx, "stablelm", w);
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    if (!has_tokenizer(ctx)) return;
    // llama.cpp falls back to Qwen's tiktoken files (old StableLM 2); not done here
    write_gpt2_vocab(ctx, w);
  }
};

}  // namespace

std::unique_ptr<HfFamily> make_stablelm_family() { return std::make_unique<StableLmFamily>(); }

}  // namespace tf::convert
