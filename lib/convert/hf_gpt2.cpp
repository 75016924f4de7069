// GPT-2 checkpoints -> GGUF arch "gpt2" (llama.cpp GPT2Model).

#include "convert/hf_family.h"
#include "convert/hf_vocab.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::convert {
namespace {
using nlohmann::json;

const NameTable& kNames = models::tensor_names(hf::Arch::Gpt2);

// Conv1D weights are stored [in, out]
bool is_conv1d_weight(const std::string& gguf_name) {
  return gguf_name.ends_with(".weight") && gguf_name.rfind("blk.", 0) == 0 &&
         gguf_name.find("_norm.") == std::string::npos;
}

class Gpt2Family : public HfFamily {
 public:
  std::string arch() const override { return "gpt2"; }
  const NameTable& names() const override { return kNames; }

  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& hf_name,
                                        const Shape& shape) const override {
    // the prefix is optional in GPT-2 checkpoints
    std::string name = hf_name.rfind("transformer.", 0) == 0 ? hf_name : "transformer." + hf_name;
    // the causal-mask buffers of old checkpoints
    if (name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")) return {};
    if (name == "transformer.lm_head.weight")
      fail(ctx.dir, ": ", hf_name, ": an untied GPT-2 output head is not supported (llama.cpp writes the tied "
           "embedding as output.weight)");
    PlannedTensor t = renamed(ctx, hf_name, name, shape);
    if (t.gguf_name == "position_embd.weight") t.keep_f32 = true;
    if (is_conv1d_weight(t.gguf_name)) {
      if (shape.size() != 2) fail(ctx.dir, ": ", hf_name, " should be 2-D");
      t.transform = Transform::Transpose;
      t.shape = {shape[1], shape[0]};
    }
    if (t.gguf_name != "token_embd.weight") return {t};
    // llama.cpp's GPT-2 graph reads a separate output matrix: the tied
    // embedding is written twice, as llama.cpp's converter does.
    PlannedTensor out = t;
    out.gguf_name = "output.weight";
    return {t, out};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    using gguf::Value;
    const json& c = ctx.config;
    uint32_t n_embd = require_u32(ctx, {"n_embd"});
    w.set("gpt2.block_count", Value::u32(require_u32(ctx, {"n_layer"})));
    // llama.cpp requires n_ctx; configs saved without it have n_positions
    w.set("gpt2.context_length", Value::u32(require_u32(ctx, {"n_ctx", "n_positions"})));
    w.set("gpt2.embedding_length", Value::u32(n_embd));
    w.set("gpt2.feed_forward_length", Value::u32(4 * n_embd));
    w.set("gpt2.attention.head_count", Value::u32(require_u32(ctx, {"n_head"})));
    const json* eps = find_hparam(c, {"layer_norm_epsilon"});
    w.set("gpt2.attention.layer_norm_epsilon", Value::f32(eps ? eps->get<float>() : 1e-5f));
    w.set("general.file_type", Value::u32(ctx.file_type));
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    const json* n = find_hparam(ctx.config, {"vocab_size"});
    GgufVocab v = hf_token_list(ctx.dir, n ? hparam_u32(*n, "vocab_size") : 0, "gpt2");
    v.pre = detect_pre_tokenizer(ctx.dir);
    add_special_vocab(ctx.dir, true, v);
    write_vocab(w, v);
  }

};

}  // namespace

std::unique_ptr<HfFamily> make_gpt2_family() { return std::make_unique<Gpt2Family>(); }

}  // namespace tf::convert
