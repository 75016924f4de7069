// LLaMA and Mistral checkpoints -> GGUF arch "llama" (llama.cpp LlamaModel).
#include <cmath>
#include <filesystem>

#include "convert/hf_family.h"
#include "convert/hf_vocab.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/json_file.h"

namespace tf::convert {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

const NameTable& kNames = models::tensor_names(hf::Arch::Llama);

// rope_scaling (transformers 4) or rope_parameters (transformers 5)
const json* rope_config(const json& c) {
  if (c.contains("rope_scaling") && c["rope_scaling"].is_object()) return &c["rope_scaling"];
  if (c.contains("rope_parameters") && c["rope_parameters"].is_object()) return &c["rope_parameters"];
  return nullptr;
}

std::string rope_type(const json* r) {
  if (!r) return "";
  std::string t = r->value("rope_type", r->value("type", std::string()));
  for (char& ch : t) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return t;
}

class LlamaFamily : public HfFamily {
 public:
  std::string arch() const override { return "llama"; }
  const NameTable& names() const override { return kNames; }

  std::vector<PlannedTensor> extra_tensors(const ConvertContext& ctx) const override {
    const json& c = ctx.config;
    const json* r = rope_config(c);
    if (rope_type(r) != "llama3") return {};
    // llama.cpp stores Llama 3's frequency-dependent scaling as per-dimension
    // factors (rope_freqs), computed exactly as its converter does.
    double base = r->value("rope_theta", c.value("rope_theta", 10000.0));
    int64_t dim = head_dim(c);
    double factor = r->value("factor", 8.0), low = r->value("low_freq_factor", 1.0);
    double high = r->value("high_freq_factor", 4.0);
    double orig = r->value("original_max_position_embeddings", 8192.0);
    double low_wavelen = orig / low, high_wavelen = orig / high;
    PlannedTensor t;
    t.gguf_name = "rope_freqs.weight";
    t.shape = {dim / 2};
    t.keep_f32 = true;
    for (int64_t i = 0; i < dim; i += 2) {
      float freq = float(1.0 / std::pow(base, double(i) / double(dim)));
      double wavelen = 2 * M_PI / freq;
      double f;
      if (wavelen < high_wavelen) {
        f = 1;
      } else if (wavelen > low_wavelen) {
        f = factor;
      } else {
        double smooth = (orig / wavelen - low) / (high - low);
        f = 1 / ((1 - smooth) / factor + smooth);
      }
      t.generated.push_back(float(f));
    }
    return {t};
  }

  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& name,
                                        const Shape& shape) const override {
    if (name.find("rotary_emb.inv_freq") != std::string::npos) return {};
    PlannedTensor t = renamed(ctx, name, shape);
    bool q = t.gguf_name.find(".attn_q.") != std::string::npos;
    bool k = t.gguf_name.find(".attn_k.") != std::string::npos;
    if (q || k) {
      t.transform = Transform::PermuteHeads;
      t.heads = rotary_heads(ctx.config, k);
      if (t.heads <= 0 || shape[0] % t.heads != 0 || (shape[0] / t.heads) % 2 != 0)
        fail(ctx.dir, ": ", name, " has ", shape[0], " rows, which do not split into ", t.heads, " heads of even size");
    }
    return {t};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    using gguf::Value;
    write_base_parameters(ctx, "llama", w);
    const json& c = ctx.config;
    const json* vocab = find_hparam(c, {"vocab_size"});
    if (!vocab) fail(ctx.dir, "/config.json: missing vocab_size");
    w.set("llama.vocab_size", Value::u32(hparam_u32(*vocab, "vocab_size")));
    w.set("llama.rope.dimension_count", Value::u32(uint32_t(head_dim(c))));
    const json* r = rope_config(c);
    if (rope_type(r) == "linear" && r->contains("factor")) {
      w.set("llama.rope.scaling.type", Value::string("linear"));
      w.set("llama.rope.scaling.factor", Value::f32((*r)["factor"].get<float>()));
    }
    // llama.cpp's converter drops Mistral's window (and its runtime attends to
    // the whole context); we keep it so the file computes what transformers
    // does past the window. Other readers ignore the extra key.
    if (const json* sw = find_hparam(c, {"sliding_window"}); sw && sw->is_number_integer() && sw->get<int64_t>() > 0)
      w.set("llama.attention.sliding_window", Value::u32(hparam_u32(*sw, "sliding_window")));
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    if (!has_tokenizer(ctx)) return;
    if (fs::exists(fs::path(ctx.dir) / "tokenizer.model")) {
      write_sentencepiece_vocab(ctx, w);
    } else {
      write_gpt2_vocab(ctx, w);  // Llama 3 style byte-level BPE
    }
    fs::path tc = fs::path(ctx.dir) / "tokenizer_config.json";
    if (fs::exists(tc)) {
      json j = read_json_file(tc.string());
      if (j.contains("add_prefix_space")) {
        const json& a = j["add_prefix_space"];
        w.set("tokenizer.ggml.add_space_prefix", gguf::Value::boolean(a.is_boolean() ? a.get<bool>() : !a.is_null()));
      }
    }
  }

 private:
  // q is permuted per attention head, k per key/value head
  static int64_t rotary_heads(const json& c, bool k) {
    const json* heads = find_hparam(c, {"num_attention_heads"});
    const json* kv = find_hparam(c, {"num_key_value_heads"});
    int64_t n = heads && heads->is_number_integer() ? heads->get<int64_t>() : 0;
    if (k && kv && kv->is_number_integer()) n = kv->get<int64_t>();
    return n;
  }
  static int64_t head_dim(const json& c) {
    if (const json* hd = find_hparam(c, {"head_dim"})) return hd->get<int64_t>();
    int64_t hidden = c.value("hidden_size", int64_t(0)), heads = c.value("num_attention_heads", int64_t(0));
    if (heads <= 0 || hidden % heads != 0) fail("config.json: hidden_size is not a multiple of num_attention_heads");
    return hidden / heads;
  }
};

}  // namespace

std::unique_ptr<HfFamily> make_llama_family() { return std::make_unique<LlamaFamily>(); }

}  // namespace tf::convert
