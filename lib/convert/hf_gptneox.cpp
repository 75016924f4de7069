// GPT-NeoX (Pythia) checkpoints -> GGUF arch "gptneox" (llama.cpp GPTNeoXModel).
#include "convert/hf_family.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::convert {
namespace {
using nlohmann::json;

const NameTable& kNames = models::tensor_names(hf::Arch::GptNeoX);

class GptNeoXFamily : public HfFamily {
 public:
  std::string arch() const override { return "gptneox"; }
  const NameTable& names() const override { return kNames; }

  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& name,
                                        const Shape& shape) const override {
    // causal-mask buffers and rotary caches of older checkpoints
    if (name.ends_with(".attention.bias") || name.ends_with(".attention.masked_bias") ||
        name.ends_with("rotary_emb.inv_freq"))
      return {};
    PlannedTensor t = renamed(ctx, name, shape);
    if (t.gguf_name.find(".attn_qkv.") != std::string::npos) {
      // HF interleaves per head ([head][q|k|v][head_dim]); llama.cpp's graph
      // takes q, k and v as three contiguous blocks.
      const json* heads = find_hparam(ctx.config, {"num_attention_heads"});
      t.transform = Transform::QkvGroups;
      t.heads = heads ? hparam_u32(*heads, "num_attention_heads") : 0;
      t.q_per_group = 1;
      if (t.heads <= 0 || shape[0] % (3 * t.heads) != 0)
        fail(ctx.dir, ": ", name, " has ", shape[0], " rows, which do not split into q/k/v of ", t.heads, " heads");
    }
    return {t};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    using gguf::Value;
    const json& c = ctx.config;
    uint32_t n_embd = require_u32(ctx, {"hidden_size"});
    uint32_t n_head = require_u32(ctx, {"num_attention_heads"});
    if (n_head == 0) fail(ctx.dir, "/config.json: num_attention_heads must be positive");
    w.set("gptneox.context_length", Value::u32(require_u32(ctx, {"max_position_embeddings"})));
    w.set("gptneox.embedding_length", Value::u32(n_embd));
    w.set("gptneox.block_count", Value::u32(require_u32(ctx, {"num_hidden_layers"})));
    w.set("gptneox.feed_forward_length", Value::u32(require_u32(ctx, {"intermediate_size"})));
    // llama.cpp reads rotary_pct only; transformers 5 keeps the fraction in
    // rope_parameters.partial_rotary_factor
    double partial = partial_rotary(c, {"rotary_pct", "partial_rotary_factor"}, 0.25);
    w.set("gptneox.rope.dimension_count", Value::u32(uint32_t(partial * double(n_embd / n_head))));
    w.set("gptneox.attention.head_count", Value::u32(n_head));
    bool par = !c.contains("use_parallel_residual") ||
               (c["use_parallel_residual"].is_boolean() && c["use_parallel_residual"].get<bool>());
    w.set("gptneox.use_parallel_residual", Value::boolean(par));
    w.set("gptneox.attention.layer_norm_epsilon", Value::f32(require_hparam(ctx, {"layer_norm_eps"}).get<float>()));
    // llama.cpp writes no general.file_type for this architecture
    if (const json* base = find_hparam(c, {"rotary_emb_base"}); base && !rope_theta(c)) {
      if (base->get<double>() != 10000.0) w.set("gptneox.rope.freq_base", Value::f32(base->get<float>()));
    } else {
      write_nondefault_freq_base(ctx, "gptneox", w);
    }
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    if (has_tokenizer(ctx)) write_gpt2_vocab(ctx, w);
  }
};

}  // namespace

std::unique_ptr<HfFamily> make_gptneox_family() { return std::make_unique<GptNeoXFamily>(); }

}  // namespace tf::convert
