// Falcon checkpoints -> GGUF arch "falcon" (llama.cpp FalconModel).
#include "convert/hf_family.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::convert {
namespace {
using nlohmann::json;

const NameTable& kNames = models::tensor_names(hf::Arch::Falcon);

int64_t get_i64(const ConvertContext& ctx, std::initializer_list<const char*> keys) {
  const json* v = find_hparam(ctx.config, keys);
  if (!v) fail(ctx.dir, "/config.json: missing ", *keys.begin());
  return hparam_u32(*v, *keys.begin());
}

bool flag(const json& c, const char* key, bool fallback) {
  return c.contains(key) && c[key].is_boolean() ? c[key].get<bool>() : fallback;
}

// The kv head count the checkpoint's fused qkv is laid out with. llama.cpp
// takes num_kv_heads (else n_head_kv, else 1); transformers reads
// num_kv_heads only with new_decoder_architecture, and a re-saved falcon-7b
// config carries num_kv_heads = num_attention_heads although it is
// multi-query. Both agree on the original configs.
int64_t kv_heads(const ConvertContext& ctx) {
  const json& c = ctx.config;
  int64_t n_head = get_i64(ctx, {"num_attention_heads", "n_head"});
  const json* kv = find_hparam(c, {"num_kv_heads", "n_head_kv"});
  bool new_arch = flag(c, "new_decoder_architecture", false);
  if (new_arch || !c.contains("multi_query")) return kv ? hparam_u32(*kv, "num_kv_heads") : 1;
  return flag(c, "multi_query", true) ? 1 : n_head;
}

class FalconFamily : public HfFamily {
 public:
  std::string arch() const override { return "falcon"; }
  const NameTable& names() const override { return kNames; }

  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& name,
                                        const Shape& shape) const override {
    if (name.ends_with("inv_freq")) return {};
    PlannedTensor t = renamed(ctx, name, shape);
    if (t.gguf_name.find(".attn_qkv.") != std::string::npos) {
      // [kv group][its q heads, k, v][head_dim] -> all q, all k, all v
      // ("jploski" layout); the bias, when there is one, moves with its rows.
      int64_t n_head = get_i64(ctx, {"num_attention_heads", "n_head"}), n_kv = kv_heads(ctx);
      if (n_kv <= 0 || n_head % n_kv != 0 || shape[0] % (n_head + 2 * n_kv) != 0)
        fail(ctx.dir, ": ", name, " has ", shape[0], " rows, which do not fit ", n_head, " q heads and ", n_kv,
             " kv heads");
      t.transform = Transform::QkvGroups;
      t.heads = n_kv;
      t.q_per_group = n_head / n_kv;
    }
    return {t};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    using gguf::Value;
    const json& c = ctx.config;
    int64_t n_embd = get_i64(ctx, {"hidden_size"});
    w.set("falcon.context_length", Value::u32(2048));  // as llama.cpp: config.json's value is not used
    w.set("falcon.tensor_data_layout", Value::string("jploski"));
    w.set("falcon.embedding_length", Value::u32(uint32_t(n_embd)));
    // llama.cpp writes 4 * hidden; ffn_hidden_size (Falcon 2/3) is what the
    // tensors have, and equals it wherever llama.cpp's file loads
    const json* ff = find_hparam(c, {"ffn_hidden_size"});
    w.set("falcon.feed_forward_length", Value::u32(ff ? hparam_u32(*ff, "ffn_hidden_size") : uint32_t(4 * n_embd)));
    w.set("falcon.block_count", Value::u32(uint32_t(get_i64(ctx, {"num_hidden_layers", "n_layer"}))));
    w.set("falcon.attention.head_count", Value::u32(uint32_t(get_i64(ctx, {"num_attention_heads", "n_head"}))));
    w.set("falcon.attention.head_count_kv", Value::u32(uint32_t(kv_heads(ctx))));
    const json* eps = find_hparam(c, {"layer_norm_epsilon"});
    if (!eps || !eps->is_number()) fail(ctx.dir, "/config.json: missing layer_norm_epsilon");
    w.set("falcon.attention.layer_norm_epsilon", Value::f32(eps->get<float>()));
    w.set("general.file_type", Value::u32(ctx.file_type));
    write_nondefault_freq_base(ctx, "falcon", w);
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    if (has_tokenizer(ctx)) write_gpt2_vocab(ctx, w);
  }
};

}  // namespace

std::unique_ptr<HfFamily> make_falcon_family() { return std::make_unique<FalconFamily>(); }

}  // namespace tf::convert
