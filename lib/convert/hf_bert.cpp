// BERT checkpoints -> GGUF arch "bert" (llama.cpp BertModel).
#include <filesystem>
#include <fstream>

#include "convert/hf_family.h"
#include "convert/hf_vocab.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/json_file.h"

namespace tf::convert {
namespace {
using nlohmann::json;
namespace fs = std::filesystem;

const NameTable& kNames = models::tensor_names(hf::Arch::Bert);

class BertFamily : public HfFamily {
 public:
  std::string arch() const override { return "bert"; }
  const NameTable& names() const override { return kNames; }

  std::vector<PlannedTensor> map_tensor(const ConvertContext& ctx, const std::string& hf_name,
                                        const Shape& shape) const override {
    std::string name = hf_name.rfind("bert.", 0) == 0 ? hf_name.substr(5) : hf_name;
    // heads llama.cpp's bert graph has no use for: MLM / NSP heads and the pooler
    if (name.rfind("cls.", 0) == 0 || name.rfind("pooler.", 0) == 0 || name == "embeddings.position_ids") return {};
    if (name.ends_with(".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
    if (name.ends_with(".beta")) name = name.substr(0, name.size() - 5) + ".bias";
    PlannedTensor t = renamed(ctx, hf_name, name, shape);
    t.keep_f32 = t.gguf_name == "position_embd.weight" || t.gguf_name == "token_types.weight";
    return {t};
  }

  void write_parameters(const ConvertContext& ctx, gguf::Writer& w) const override {
    write_base_parameters(ctx, "bert", w);
    w.set("bert.attention.causal", gguf::Value::boolean(false));
    // sentence-transformers folders say how embeddings are pooled
    fs::path modules = fs::path(ctx.dir) / "modules.json";
    if (!fs::exists(modules)) return;
    std::ifstream in(modules);
    json list = json::parse(in, nullptr, false);
    if (!list.is_array()) fail(modules.string(), ": expected a JSON array");
    for (const auto& m : list) {
      if (!m.is_object() || m.value("type", "") != "sentence_transformers.models.Pooling") continue;
      json pooling = read_json_file((fs::path(ctx.dir) / m.value("path", "") / "config.json").string());
      uint32_t type;
      if (pooling.value("pooling_mode_mean_tokens", false)) {
        type = 1;
      } else if (pooling.value("pooling_mode_cls_token", false)) {
        type = 2;
      } else {
        fail(modules.string(), ": only mean and CLS pooling are supported");
      }
      w.set("bert.pooling_type", gguf::Value::u32(type));
    }
  }

  void write_tokenizer(const ConvertContext& ctx, gguf::Writer& w) const override {
    const json* types = find_hparam(ctx.config, {"type_vocab_size"});
    w.set("tokenizer.ggml.token_type_count", gguf::Value::u32(types ? hparam_u32(*types, "type_vocab_size") : 1));
    const json* n = find_hparam(ctx.config, {"vocab_size"});
    GgufVocab v = hf_token_list(ctx.dir, n ? hparam_u32(*n, "vocab_size") : 0, "bert");
    v.pre = detect_pre_tokenizer(ctx.dir);
    // llama.cpp spells WordPiece with a phantom space: word starts get "▁",
    // continuations lose "##", bracketed specials stay as they are.
    for (std::string& t : v.tokens) {
      if (t.size() >= 2 && t.front() == '[' && t.back() == ']') continue;
      if (t.rfind("##", 0) == 0)
        t = t.substr(2);
      else
        t = "\xe2\x96\x81" + t;
    }
    add_special_vocab(ctx.dir, false, v);
    write_vocab(w, v);
  }

};

}  // namespace

std::unique_ptr<HfFamily> make_bert_family() { return std::make_unique<BertFamily>(); }

}  // namespace tf::convert
