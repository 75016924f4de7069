// Qwen2 checkpoints -> GGUF arch "qwen2" (llama.cpp Qwen2Model).
#include <filesystem>

#include "convert/hf_family.h"
#include "tf/error.h"
#include "tf/gguf.h"

namespace tf::convert {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

const NameTable& kNames = models::tensor_names(hf::Arch::Qwen2);

class Qwen2Family : public HfFamily {
 public:
  std::string arch() const override { return "qwen2"; }
  const NameTable& names() const override { return kNames; }

  // Unlike LLaMA, q/k stay in HF's rotate-half order: llama.cpp runs qwen2
  // with NeoX-style rope.
  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& name,
                                        const Shape& shape) const override {
    if (name.ends_with("rotary_emb.inv_freq")) return {};
    PlannedTensor t = renamed(ctx, name, shape);
    return {t};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    using gguf::Value;
    write_base_parameters(ctx, "qwen2", w);
    const json& c = ctx.config;
    if (!c.contains("rope_scaling") || !c["rope_scaling"].is_object()) return;
    const json& r = c["rope_scaling"];
    if (r.contains("factor") && r.value("type", std::string()) == "yarn") {
      w.set("qwen2.rope.scaling.type", Value::string("yarn"));
      w.set("qwen2.rope.scaling.factor", Value::f32(r["factor"].get<float>()));
      w.set("qwen2.rope.scaling.original_context_length",
            Value::u32(hparam_u32(r.at("original_max_position_embeddings"), "original_max_position_embeddings")));
    }
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    if (!has_tokenizer(ctx)) return;
    if (fs::exists(fs::path(ctx.dir) / "tokenizer.model"))
      write_sentencepiece_vocab(ctx, w);
    else
      write_gpt2_vocab(ctx, w);
  }
};

}  // namespace

std::unique_ptr<HfFamily> make_qwen2_family() { return std::make_unique<Qwen2Family>(); }

}  // namespace tf::convert
