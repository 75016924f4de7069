// BERT with a sequence-classification head (tf/train_model.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "tf/error.h"
#include "tf/json_file.h"
#include "tf/rng.h"
#include "tf/safetensors.h"
#include "tf/train_model.h"
#include "tf/train_ops.h"

namespace tf::train {

struct TextClassifier::Impl {
  nlohmann::json json;
  hf::Config config;
  int64_t labels = 2;

  struct Layer {
    Var q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln1_w, ln1_b, up_w, up_b, down_w, down_b, ln2_w, ln2_b;
  };
  Var word, pos, type, emb_ln_w, emb_ln_b, pool_w, pool_b, cls_w, cls_b;
  std::vector<Layer> layers;
  std::vector<NamedParam> params;
  std::vector<bool> normal_init;  // per parameter: normal(0, range) or constant (bias 0 / LayerNorm weight 1)

  Var param(const std::string& name, Shape shape, bool normal) {
    Var v = Var::parameter(Tensor::zeros(DType::F32, std::move(shape)), name);
    params.push_back({name, v});
    normal_init.push_back(normal);
    return v;
  }

  void setup(int64_t num_labels) {
    const hf::Config& c = config;
    if (c.arch != hf::Arch::Bert) fail("train: text classifier: model type ", hf::arch_name(c.arch), " (bert only)");
    if (c.embedding_size != c.hidden_size || c.pre_norm || c.num_kv_heads != c.num_heads)
      fail("train: text classifier: ", c.origin, ": unsupported BERT variant");
    labels = num_labels > 0                ? num_labels
             : !c.id2label.empty()         ? int64_t(c.id2label.size())
             : json.contains("num_labels") ? json["num_labels"].get<int64_t>()
                                           : 2;
    if (labels < 1) fail("train: text classifier: num_labels must be positive");
    if (int64_t(c.id2label.size()) != labels) {
      nlohmann::json id2label;
      for (int64_t i = 0; i < labels; ++i) id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
      json["id2label"] = id2label;
      nlohmann::json label2id;
      for (int64_t i = 0; i < labels; ++i) label2id["LABEL_" + std::to_string(i)] = i;
      json["label2id"] = label2id;
    }
    json.erase("num_labels");
    json["architectures"] = {"BertForSequenceClassification"};
    json.erase("torch_dtype");
    json["dtype"] = "float32";
    config = hf::parse_config(json.dump(), c.origin.empty() ? "config.json" : c.origin);

    const int64_t D = c.hidden_size, F = c.intermediate_size;
    word = param("bert.embeddings.word_embeddings.weight", {c.vocab_size, D}, true);
    pos = param("bert.embeddings.position_embeddings.weight", {c.max_position_embeddings, D}, true);
    type = param("bert.embeddings.token_type_embeddings.weight", {std::max<int64_t>(c.type_vocab_size, 1), D}, true);
    emb_ln_w = param("bert.embeddings.LayerNorm.weight", {D}, false);
    emb_ln_b = param("bert.embeddings.LayerNorm.bias", {D}, false);
    for (int64_t i = 0; i < c.num_layers; ++i) {
      const std::string p = "bert.encoder.layer." + std::to_string(i) + ".";
      Layer l;
      l.q_w = param(p + "attention.self.query.weight", {D, D}, true);
      l.q_b = param(p + "attention.self.query.bias", {D}, false);
      l.k_w = param(p + "attention.self.key.weight", {D, D}, true);
      l.k_b = param(p + "attention.self.key.bias", {D}, false);
      l.v_w = param(p + "attention.self.value.weight", {D, D}, true);
      l.v_b = param(p + "attention.self.value.bias", {D}, false);
      l.o_w = param(p + "attention.output.dense.weight", {D, D}, true);
      l.o_b = param(p + "attention.output.dense.bias", {D}, false);
      l.ln1_w = param(p + "attention.output.LayerNorm.weight", {D}, false);
      l.ln1_b = param(p + "attention.output.LayerNorm.bias", {D}, false);
      l.up_w = param(p + "intermediate.dense.weight", {F, D}, true);
      l.up_b = param(p + "intermediate.dense.bias", {F}, false);
      l.down_w = param(p + "output.dense.weight", {D, F}, true);
      l.down_b = param(p + "output.dense.bias", {D}, false);
      l.ln2_w = param(p + "output.LayerNorm.weight", {D}, false);
      l.ln2_b = param(p + "output.LayerNorm.bias", {D}, false);
      layers.push_back(l);
    }
    pool_w = param("bert.pooler.dense.weight", {D, D}, true);
    pool_b = param("bert.pooler.dense.bias", {D}, false);
    cls_w = param("classifier.weight", {labels, D}, true);
    cls_b = param("classifier.bias", {labels}, false);
  }

  void initialise(uint64_t seed, size_t from = 0) {
    double range = 0.02;
    if (json.contains("initializer_range") && json["initializer_range"].is_number()) range = json["initializer_range"].get<double>();
    Rng rng(seed);
    for (size_t i = from; i < params.size(); ++i) {
      float* p = params[i].var.mutable_data();
      const int64_t n = params[i].var.numel();
      if (normal_init[i]) {
        for (int64_t j = 0; j < n; ++j) p[j] = float(range) * rng.normal();
      } else {
        std::fill(p, p + n, params[i].name.ends_with("LayerNorm.weight") ? 1.0f : 0.0f);
      }
    }
    if (from == 0 && config.pad_token_id && *config.pad_token_id >= 0 && *config.pad_token_id < config.vocab_size) {
      float* row = word.mutable_data() + *config.pad_token_id * config.hidden_size;
      std::fill(row, row + config.hidden_size, 0.0f);
    }
  }

  Var forward(const std::vector<std::vector<int32_t>>& seqs) {
    const hf::Config& c = config;
    const int64_t B = int64_t(seqs.size());
    if (B == 0) fail("train: text classifier: empty batch");
    int64_t T = 0;
    std::vector<int32_t> lengths;
    for (const auto& s : seqs) {
      if (s.empty()) fail("train: text classifier: empty sequence");
      if (c.max_position_embeddings > 0 && int64_t(s.size()) > c.max_position_embeddings)
        fail("train: text classifier: ", s.size(), " tokens exceed ", c.max_position_embeddings, " positions");
      T = std::max<int64_t>(T, int64_t(s.size()));
      lengths.push_back(int32_t(s.size()));
    }
    // Right padding with id 0; padding rows never reach a real token (masked keys).
    std::vector<int32_t> ids(size_t(B * T), 0), positions(size_t(B * T)), first_rows;
    for (int64_t b = 0; b < B; ++b) {
      std::copy(seqs[size_t(b)].begin(), seqs[size_t(b)].end(), ids.begin() + b * T);
      for (int64_t t = 0; t < T; ++t) positions[size_t(b * T + t)] = int32_t(t + c.position_offset);
      first_rows.push_back(int32_t(b * T));
    }
    const float eps = float(c.norm_eps);
    const Var type0 = slice(type, 0, 0, 1);  // token type 0 for every token
    Var x = add(add(embedding(word, ids), embedding(pos, positions)), type0);
    x = layer_norm(x, emb_ln_w, emb_ln_b, eps);
    const int64_t H = c.num_heads;
    const float scale = float(c.attn_scale > 0 ? c.attn_scale : 1.0 / std::sqrt(double(c.head_dim)));
    for (const Layer& l : layers) {
      const Var a = self_attention(linear(x, l.q_w, l.q_b), linear(x, l.k_w, l.k_b), linear(x, l.v_w, l.v_b), B, H, H,
                                   scale, false, lengths);
      x = layer_norm(add(x, linear(a, l.o_w, l.o_b)), l.ln1_w, l.ln1_b, eps);
      const Var f = linear(gelu_of(linear(x, l.up_w, l.up_b)), l.down_w, l.down_b);
      x = layer_norm(add(x, f), l.ln2_w, l.ln2_b, eps);
    }
    // The pooler reads each sequence's first token: a row gather, as embedding().
    const Var pooled = tanh(linear(embedding(x, first_rows), pool_w, pool_b));
    return linear(pooled, cls_w, cls_b);
  }

  Var gelu_of(const Var& x) const {
    switch (config.activation) {
      case hf::Activation::Gelu: return gelu(x);
      case hf::Activation::GeluTanh: return gelu_tanh(x);
      case hf::Activation::Relu: return relu(x);
      case hf::Activation::Silu: return silu(x);
      default: fail("train: text classifier: activation ", hf::activation_name(config.activation), " is not supported");
    }
  }
};

TextClassifier::TextClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TextClassifier::~TextClassifier() = default;

std::unique_ptr<TextClassifier> TextClassifier::init(const nlohmann::json& config_json, uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->json = config_json;
  impl->config = hf::parse_config(config_json.dump(), "config.json");
  impl->setup(0);
  impl->initialise(seed);
  return std::unique_ptr<TextClassifier>(new TextClassifier(std::move(impl)));
}

std::unique_ptr<TextClassifier> TextClassifier::load(const std::string& path, int64_t num_labels, uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->json = read_json_file((std::filesystem::path(path) / "config.json").string());
  impl->config = hf::load_config(path);
  impl->setup(num_labels);
  const auto ckpt = safetensors::Checkpoint::open_dir(path);
  // The pooler and classifier may be missing (a base or masked-LM
  // checkpoint): those, and only those, start from a fresh init.
  const size_t head_from = impl->params.size() - 4;
  impl->initialise(seed, head_from);
  for (size_t i = 0; i < impl->params.size(); ++i) {
    NamedParam& p = impl->params[i];
    std::string name = p.name;
    if (!ckpt.contains(name) && name.starts_with("bert.") && ckpt.contains(name.substr(5))) name = name.substr(5);
    if (!ckpt.contains(name)) {
      if (i >= head_from) continue;
      fail(path, ": the checkpoint has no ", p.name);
    }
    const Tensor t = ckpt.tensor(name).to(DType::F32).contiguous();
    if (t.shape() != p.var.shape()) {
      if (i >= head_from + 2) continue;  // a classifier for another label count: start it fresh
      fail(path, ": ", name, " is ", t.shape_string(), ", expected ", shape_string(p.var.shape()));
    }
    std::memcpy(p.var.mutable_data(), t.data(), size_t(t.numel()) * sizeof(float));
  }
  return std::unique_ptr<TextClassifier>(new TextClassifier(std::move(impl)));
}

const hf::Config& TextClassifier::config() const { return impl_->config; }
const nlohmann::json& TextClassifier::config_json() const { return impl_->json; }
int64_t TextClassifier::num_labels() const { return impl_->labels; }
std::vector<NamedParam> TextClassifier::parameters() const { return impl_->params; }

std::vector<Var> TextClassifier::parameter_vars() const {
  std::vector<Var> out;
  for (const NamedParam& p : impl_->params) out.push_back(p.var);
  return out;
}

Var TextClassifier::logits(const std::vector<std::vector<int32_t>>& sequences) { return impl_->forward(sequences); }

Var TextClassifier::loss(const std::vector<std::vector<int32_t>>& sequences, std::span<const int32_t> labels) {
  if (labels.size() != sequences.size()) fail("train: text classifier: ", labels.size(), " labels for ", sequences.size(), " sequences");
  return cross_entropy(impl_->forward(sequences), std::vector<int32_t>(labels.begin(), labels.end()));
}

void TextClassifier::save_pretrained(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  safetensors::Writer writer;
  writer.set_metadata("format", "pt");
  for (const NamedParam& p : impl_->params) writer.add(p.name, p.var.value());
  writer.write((std::filesystem::path(dir) / "model.safetensors").string());
  write_json_file((std::filesystem::path(dir) / "config.json").string(), impl_->json);
}

}  // namespace tf::train
