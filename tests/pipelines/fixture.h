// Tiny BERT task checkpoints written by the tests themselves (config.json,
// tokenizer.json, model.safetensors), and an independent reference of what
// their encoder computes, so that post-processing can be checked against
// values worked out here rather than by the code under test.
//
// The encoder is built to be easy to follow: hidden 32, one layer, token
// embeddings one-hot (token id = dimension), no position / segment terms,
// q = k = 0 (uniform attention), v = o = identity, a zero MLP, LayerNorms
// of weight 1 and bias 0. So the output row of token t is
//   out_t = LN(LN(x_t + mean_j x_j) + 0),  x_t = LN(onehot(id_t)),
// and the task head is applied to it as transformers does.
#pragma once
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/safetensors.h"
#include "tf/tensor.h"

namespace tf::test {

inline const std::vector<std::string>& fixture_vocab() {
  static const std::vector<std::string> v = {
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "paris", "is",      "in",   "france", "##ville",
      "where", "?",     ".",     ",",     "this",   "example", "travel", "cooking", "about", "!",   "the",
      "capital", "of", "cafe",  "city",  "##s"};
  return v;
}
constexpr int64_t kFixtureHidden = 32;

inline int32_t fixture_id(const std::string& piece) {
  const auto& v = fixture_vocab();
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == piece) return int32_t(i);
  return -1;
}

// Which encoder family the fixture is: BERT with a WordPiece vocabulary, or
// RoBERTa with a byte-level BPE one (roberta_fixture below).
struct FixtureModel {
  std::string model_type = "bert", base = "bert.";
  std::vector<std::string> vocab;
  nlohmann::json tokenizer;
  int64_t hidden = kFixtureHidden;
};

struct HeadWeights {
  std::string architecture;  // BertForTokenClassification, ...
  std::map<std::string, std::pair<Shape, std::vector<float>>> tensors;  // HF names
  std::map<int64_t, std::string> id2label;
  std::string problem_type;  // "" = absent
};

inline FixtureModel bert_fixture() {
  using nlohmann::json;
  const auto& vocab = fixture_vocab();
  json added = json::array();
  for (int i = 0; i < 5; ++i)
    added.push_back({{"id", i}, {"content", vocab[size_t(i)]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  json v = json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  json tok = {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
      {"normalizer", {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
                      {"strip_accents", nullptr}, {"lowercase", true}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                    {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}}},
        {"pair", {{{"SpecialToken", {{"id", "[CLS]"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                  {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}},
                  {{"SpecialToken", {{"id", "[SEP]"}, {"type_id", 1}}}}}},
        {"special_tokens", {{"[CLS]", {{"id", "[CLS]"}, {"ids", {2}}, {"tokens", {"[CLS]"}}}},
                            {"[SEP]", {{"id", "[SEP]"}, {"ids", {3}}, {"tokens", {"[SEP]"}}}}}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                 {"max_input_chars_per_word", 100}, {"vocab", v}}}};
  FixtureModel fm;
  fm.vocab = vocab;
  fm.tokenizer = tok;
  return fm;
}

inline void write_fixture(const std::string& dir, const HeadWeights& head, const FixtureModel& fm = bert_fixture()) {
  using nlohmann::json;
  const int64_t d = fm.hidden, V = int64_t(fm.vocab.size()), ff = 4;
  const bool roberta = fm.model_type == "roberta";
  const int64_t positions = roberta ? 66 : 64, types = roberta ? 1 : 2;  // RoBERTa numbers positions from pad + 1
  json config = {{"architectures", {head.architecture}}, {"model_type", fm.model_type}, {"hidden_size", d},
                 {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"intermediate_size", ff},
                 {"max_position_embeddings", positions}, {"type_vocab_size", types}, {"vocab_size", V},
                 {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu"}, {"pad_token_id", roberta ? 1 : 0}};
  if (!head.id2label.empty()) {
    json id2label = json::object(), label2id = json::object();
    for (const auto& [id, l] : head.id2label) {
      id2label[std::to_string(id)] = l;
      label2id[l] = id;
    }
    config["id2label"] = id2label;
    config["label2id"] = label2id;
  }
  if (!head.problem_type.empty()) config["problem_type"] = head.problem_type;
  std::ofstream(dir + "/config.json") << config.dump(2);

  std::ofstream(dir + "/tokenizer.json") << fm.tokenizer.dump(2);

  safetensors::Writer w;
  w.set_metadata("format", "pt");
  auto add = [&](const std::string& name, Shape shape, const std::vector<float>& values) {
    Tensor t = Tensor::zeros(DType::F32, shape);
    std::copy(values.begin(), values.end(), t.mutable_data_as<float>());
    w.add(name, t);
  };
  auto zeros = [](int64_t n) { return std::vector<float>(size_t(n), 0.0f); };
  auto ones = [](int64_t n) { return std::vector<float>(size_t(n), 1.0f); };
  auto eye = [&](int64_t n) {
    std::vector<float> m(size_t(n * n), 0.0f);
    for (int64_t i = 0; i < n; ++i) m[size_t(i * n + i)] = 1.0f;
    return m;
  };
  std::vector<float> embd(size_t(V * d), 0.0f);
  for (int64_t i = 0; i < V; ++i) embd[size_t(i * d + i)] = 1.0f;
  const std::string& base = fm.base;
  add(base + "embeddings.word_embeddings.weight", {V, d}, embd);
  add(base + "embeddings.position_embeddings.weight", {positions, d}, zeros(positions * d));
  add(base + "embeddings.token_type_embeddings.weight", {types, d}, zeros(types * d));
  add(base + "embeddings.LayerNorm.weight", {d}, ones(d));
  add(base + "embeddings.LayerNorm.bias", {d}, zeros(d));
  const std::string l = base + "encoder.layer.0.";
  for (const char* p : {"attention.self.query", "attention.self.key"}) {
    add(l + p + ".weight", {d, d}, zeros(d * d));
    add(l + p + ".bias", {d}, zeros(d));
  }
  for (const char* p : {"attention.self.value", "attention.output.dense"}) {
    add(l + p + ".weight", {d, d}, eye(d));
    add(l + p + ".bias", {d}, zeros(d));
  }
  add(l + "intermediate.dense.weight", {ff, d}, zeros(ff * d));
  add(l + "intermediate.dense.bias", {ff}, zeros(ff));
  add(l + "output.dense.weight", {d, ff}, zeros(ff * d));
  add(l + "output.dense.bias", {d}, zeros(d));
  for (const char* p : {"attention.output.LayerNorm", "output.LayerNorm"}) {
    add(l + p + ".weight", {d}, ones(d));
    add(l + p + ".bias", {d}, zeros(d));
  }
  for (const auto& [name, t] : head.tensors) add(name, t.first, t.second);
  w.write(dir + "/model.safetensors");
}

// A RoBERTa-style vocabulary: GPT-2 byte-level BPE whose merges build each
// of `words` (spelled with Ġ for a leading space) from its characters, and
// RobertaProcessing's <s> A </s></s> B </s>. Token ids: the five specials,
// then every character, then every longer prefix of the words.
inline FixtureModel roberta_fixture(const std::vector<std::string>& words, int64_t hidden) {
  using nlohmann::json;
  FixtureModel fm;
  fm.model_type = "roberta";
  fm.base = "roberta.";
  fm.hidden = hidden;
  fm.vocab = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
  auto chars = [](const std::string& w) {
    std::vector<std::string> c;
    for (size_t i = 0; i < w.size();) {
      size_t n = 1;
      while (i + n < w.size() && (static_cast<unsigned char>(w[i + n]) & 0xC0) == 0x80) ++n;
      c.push_back(w.substr(i, n));
      i += n;
    }
    return c;
  };
  auto add_piece = [&](const std::string& p) {
    if (std::find(fm.vocab.begin(), fm.vocab.end(), p) == fm.vocab.end()) fm.vocab.push_back(p);
  };
  for (const std::string& w : words)
    for (const std::string& c : chars(w)) add_piece(c);
  json merges = json::array();
  for (const std::string& w : words) {
    std::vector<std::string> c = chars(w);
    std::string prefix = c[0];
    for (size_t i = 1; i < c.size(); ++i) {
      std::string merged = prefix + c[i];
      if (std::find(fm.vocab.begin(), fm.vocab.end(), merged) == fm.vocab.end()) {
        merges.push_back(prefix + " " + c[i]);
        add_piece(merged);
      }
      prefix = merged;
    }
  }
  json added = json::array(), v = json::object();
  for (int i = 0; i < 5; ++i)
    added.push_back({{"id", i}, {"content", fm.vocab[size_t(i)]}, {"single_word", false}, {"lstrip", i == 4},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  for (size_t i = 0; i < fm.vocab.size(); ++i) v[fm.vocab[i]] = i;
  fm.tokenizer = {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", {{"type", "RobertaProcessing"}, {"sep", {"</s>", 2}}, {"cls", {"<s>", 0}},
                          {"trim_offsets", true}, {"add_prefix_space", false}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", ""},
                 {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", v},
                 {"merges", merges}}}};
  return fm;
}

inline int32_t piece_id(const FixtureModel& fm, const std::string& piece) {
  for (size_t i = 0; i < fm.vocab.size(); ++i)
    if (fm.vocab[i] == piece) return int32_t(i);
  return -1;
}

// ---------------------------------------------------------------- the reference

inline std::vector<float> ref_layer_norm(std::vector<float> x) {
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= double(x.size());
  for (float v : x) var += (v - mean) * (v - mean);
  var /= double(x.size());
  for (float& v : x) v = float((v - mean) / std::sqrt(var + 1e-12));
  return x;
}

// out rows of the fixture encoder (hidden size d) for these ids
inline std::vector<std::vector<float>> ref_encoder(const std::vector<int32_t>& ids, int64_t hidden = kFixtureHidden) {
  const size_t d = size_t(hidden), T = ids.size();
  std::vector<std::vector<float>> x(T, std::vector<float>(d, 0.0f));
  for (size_t t = 0; t < T; ++t) {
    x[t][size_t(ids[t])] = 1.0f;
    x[t] = ref_layer_norm(x[t]);
  }
  std::vector<float> mean(d, 0.0f);
  for (size_t t = 0; t < T; ++t)
    for (size_t j = 0; j < d; ++j) mean[j] += x[t][j] / float(T);
  for (size_t t = 0; t < T; ++t) {
    for (size_t j = 0; j < d; ++j) x[t][j] += mean[j];
    x[t] = ref_layer_norm(ref_layer_norm(x[t]));
  }
  return x;
}

// y = W·x + b for W [rows, cols]
inline std::vector<float> ref_linear(const std::vector<float>& W, const std::vector<float>& b,
                                     const std::vector<float>& x) {
  std::vector<float> y(b);
  for (size_t r = 0; r < b.size(); ++r)
    for (size_t c = 0; c < x.size(); ++c) y[r] += W[r * x.size() + c] * x[c];
  return y;
}

inline std::vector<double> ref_softmax(const std::vector<float>& z) {
  double mx = z[0], sum = 0;
  for (float v : z) mx = std::max(mx, double(v));
  std::vector<double> p;
  for (float v : z) p.push_back(std::exp(double(v) - mx));
  for (double v : p) sum += v;
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace tf::test
