// Task heads of every encoder family, wired as transformers wires them: each
// zoo parity encoder gets a sequence-classification, token-classification
// and QA head (random weights written next to its own), and the head's
// logits are checked against the formula of the HF class applied with plain
// loops to the encoder's last hidden state (itself checked against the
// goldens in encoder_golden_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "common/test_paths.h"
#include "tf/encoder.h"
#include "tf/rng.h"
#include "tf/safetensors.h"

namespace tf {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<float> w, b;
  std::vector<float> apply(const float* x) const {
    std::vector<float> y(b);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) y[size_t(r)] += w[size_t(r * cols + c)] * x[c];
    return y;
  }
};

Mat random_mat(Rng& rng, int64_t rows, int64_t cols) {
  Mat m{rows, cols, {}, {}};
  for (int64_t i = 0; i < rows * cols; ++i) m.w.push_back(float(rng.uniform() - 0.5));
  for (int64_t i = 0; i < rows; ++i) m.b.push_back(float(rng.uniform() - 0.5) * 0.1f);
  return m;
}

float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f))); }

struct HeadCase {
  const char* folder;
  const char* prefix;  // base model attribute, for the pooler of BERT-style heads
  const char* cls;     // HF class stem: "Bert", "Roberta", ...
};

// Copies the folder's weights, adds `extra`, sets architectures.
std::string with_head(const test::TempDir& tmp, const fs::path& src, const std::string& arch,
                      const std::map<std::string, Mat>& extra, int64_t labels) {
  fs::path dir = tmp.path() / arch;
  fs::create_directories(dir);
  json cfg;
  std::ifstream(src / "config.json") >> cfg;
  cfg["architectures"] = {arch};
  json id2label = json::object();
  for (int64_t i = 0; i < labels; ++i) id2label[std::to_string(i)] = "L" + std::to_string(i);
  cfg["id2label"] = id2label;
  std::ofstream(dir / "config.json") << cfg.dump();
  auto f = safetensors::File::open((src / "model.safetensors").string());
  safetensors::Writer w;
  for (const auto& info : f.tensors()) w.add(info.name, f.tensor(info.name));
  for (const auto& [name, m] : extra) {
    Tensor t = Tensor::zeros(DType::F32, {m.rows, m.cols});
    std::copy(m.w.begin(), m.w.end(), t.mutable_data_as<float>());
    Tensor b = Tensor::zeros(DType::F32, {m.rows});
    std::copy(m.b.begin(), m.b.end(), b.mutable_data_as<float>());
    w.add(name + ".weight", t);
    w.add(name + ".bias", b);
  }
  w.write((dir / "model.safetensors").string());
  return dir.string();
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << i;
}

class EncoderHeads : public ::testing::TestWithParam<HeadCase> {};

TEST_P(EncoderHeads, SequenceTokenAndQaHeadsFollowTransformers) {
  TF_REQUIRE_SHARED_MODELS();
  const HeadCase& c = GetParam();
  const fs::path src = test::shared_models() / c.folder;
  test::TempDir tmp;
  Rng rng(7);
  const int64_t d = 64, L = 3;
  const std::vector<int32_t> ids = {5, 17, 300, 42, 9, 77};
  const std::string stem = c.cls;
  const std::string base = c.prefix;

  // sequence classification: the pre-classifier of each family, then the classifier
  Mat pre = random_mat(rng, d, d), out = random_mat(rng, L, d);
  std::map<std::string, Mat> seq;
  std::function<float(float)> act;
  if (stem == "Bert") {
    seq = {{base + "pooler.dense", pre}, {"classifier", out}};
    act = [](float x) { return std::tanh(x); };
  } else if (stem == "Albert") {
    seq = {{base + "pooler", pre}, {"classifier", out}};
    act = [](float x) { return std::tanh(x); };
  } else if (stem == "Roberta") {
    seq = {{"classifier.dense", pre}, {"classifier.out_proj", out}};
    act = [](float x) { return std::tanh(x); };
  } else if (stem == "Electra") {
    seq = {{"classifier.dense", pre}, {"classifier.out_proj", out}};
    act = gelu;
  } else if (stem == "DistilBert") {
    seq = {{"pre_classifier", pre}, {"classifier", out}};
    act = [](float x) { return std::max(x, 0.0f); };
  } else {  // DebertaV2: ContextPooler (pooler_hidden_act gelu)
    seq = {{"pooler.dense", pre}, {"classifier", out}};
    act = gelu;
  }
  auto enc = Encoder::load(with_head(tmp, src, stem + "ForSequenceClassification", seq, L));
  ASSERT_EQ(enc->head(), EncoderHead::SequenceClassification);
  EncoderOutput o = enc->forward({{ids, {}, {}}});
  std::vector<float> pooled = pre.apply(o.row(0, 0));
  for (float& v : pooled) v = act(v);
  std::vector<float> got(static_cast<size_t>(L));
  enc->sequence_logits(o.row(0, 0), ids.size(), got.data());
  expect_near(got, out.apply(pooled.data()));

  // token classification and QA: one linear layer on every token
  Mat tok = random_mat(rng, L, d), qa = random_mat(rng, 2, d);
  auto tenc = Encoder::load(with_head(tmp, src, stem + "ForTokenClassification", {{"classifier", tok}}, L));
  auto qenc = Encoder::load(with_head(tmp, src, stem + "ForQuestionAnswering", {{"qa_outputs", qa}}, 2));
  std::vector<float> tl(ids.size() * size_t(L)), s(ids.size()), e(ids.size());
  tenc->token_logits(o.row(0, 0), ids.size(), tl.data());
  qenc->qa_logits(o.row(0, 0), ids.size(), s.data(), e.data());
  for (size_t t = 0; t < ids.size(); ++t) {
    std::vector<float> want = tok.apply(o.row(0, t)), got_t(tl.begin() + ptrdiff_t(t * size_t(L)), tl.begin() + ptrdiff_t((t + 1) * size_t(L)));
    expect_near(got_t, want);
    std::vector<float> se = qa.apply(o.row(0, t));
    EXPECT_NEAR(s[t], se[0], 1e-5f);
    EXPECT_NEAR(e[t], se[1], 1e-5f);
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, EncoderHeads,
                         ::testing::Values(HeadCase{"parity/bert", "bert.", "Bert"},
                                           HeadCase{"parity/roberta", "roberta.", "Roberta"},
                                           HeadCase{"parity/distilbert", "distilbert.", "DistilBert"},
                                           HeadCase{"parity/electra", "electra.", "Electra"},
                                           HeadCase{"parity/albert", "albert.", "Albert"},
                                           HeadCase{"parity/deberta-v2", "deberta.", "DebertaV2"}),
                         [](const ::testing::TestParamInfo<HeadCase>& info) { return std::string(info.param.cls); });

}  // namespace
}  // namespace tf
