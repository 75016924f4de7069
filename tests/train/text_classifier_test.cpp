// tf::train::TextClassifier (BERT + sequence-classification head): equal to
// the inference encoder on the same saved weights, padded batches equal
// single sequences, it learns a toy task, and it fine-tunes from a masked-LM
// checkpoint.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_paths.h"
#include "tf/encoder.h"
#include "tf/optim.h"
#include "tf/rng.h"
#include "tf/safetensors.h"
#include "tf/train_model.h"

namespace tf::train {
namespace {

nlohmann::json tiny_bert() {
  return {{"model_type", "bert"},         {"architectures", {"BertForSequenceClassification"}},
          {"vocab_size", 40},             {"hidden_size", 16},
          {"num_hidden_layers", 2},       {"num_attention_heads", 2},
          {"intermediate_size", 24},      {"max_position_embeddings", 32},
          {"type_vocab_size", 2},         {"layer_norm_eps", 1e-12},
          {"hidden_act", "gelu"},         {"initializer_range", 0.3},
          {"pad_token_id", 0},            {"id2label", {{"0", "neg"}, {"1", "pos"}, {"2", "other"}}}};
}

std::vector<std::vector<int32_t>> batch() {
  return {{1, 5, 7, 9, 2}, {1, 3, 2}, {1, 11, 12, 13, 14, 15, 2}};
}

TEST(TextClassifier, EqualsInferenceEncoder) {
  auto m = TextClassifier::init(tiny_bert(), 1);
  EXPECT_EQ(m->num_labels(), 3);
  const auto seqs = batch();
  const Var logits = m->logits(seqs);
  ASSERT_EQ(logits.shape(), (Shape{3, 3}));
  tf::test::TempDir dir;
  m->save_pretrained(dir.path().string());
  const auto enc = Encoder::load(dir.path().string());
  ASSERT_EQ(enc->head(), EncoderHead::SequenceClassification);
  ASSERT_EQ(enc->num_labels(), 3);
  std::vector<EncoderSequence> in;
  for (const auto& s : seqs) in.push_back({s, {}, {}});
  const EncoderOutput out = enc->forward(in);
  for (size_t s = 0; s < seqs.size(); ++s) {
    float want[3];
    enc->sequence_logits(out.row(s, 0), out.n_tokens(s), want);
    for (int l = 0; l < 3; ++l) EXPECT_NEAR(logits.data()[s * 3 + size_t(l)], want[l], 1e-4) << s << " " << l;
  }
  // A padded batch gives each sequence what it gets alone.
  for (size_t s = 0; s < seqs.size(); ++s) {
    const Var alone = m->logits({seqs[s]});
    for (int l = 0; l < 3; ++l) EXPECT_NEAR(alone.data()[l], logits.data()[s * 3 + size_t(l)], 1e-5);
  }
}

TEST(TextClassifier, LearnsWhichTokenAppears) {
  // label = which of tokens 20, 21, 22 the sequence contains
  auto m = TextClassifier::init(tiny_bert(), 2);
  Rng rng(3);
  std::vector<std::vector<int32_t>> seqs;
  std::vector<int32_t> labels;
  for (int i = 0; i < 48; ++i) {
    const int32_t label = int32_t(rng.below(3));
    std::vector<int32_t> s = {1};
    const int64_t n = 2 + int64_t(rng.below(6));
    for (int64_t j = 0; j < n; ++j) s.push_back(3 + int32_t(rng.below(15)));
    s.insert(s.begin() + 1 + int64_t(rng.below(uint64_t(n))), 20 + label);
    s.push_back(2);
    seqs.push_back(s);
    labels.push_back(label);
  }
  Adam opt(decay_groups(m->parameter_vars()), adamw_options(3e-3f, 0.0f));
  for (int step = 0; step < 60; ++step) {
    Tape tape;
    const Var loss = m->loss(seqs, labels);
    opt.zero_grad();
    tape.backward(loss);
    opt.step();
  }
  const Var logits = m->logits(seqs);
  int correct = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const float* row = logits.data() + i * 3;
    correct += int32_t(std::max_element(row, row + 3) - row) == labels[i];
  }
  EXPECT_GE(correct, 46);
}

TEST(TextClassifier, FineTunesFromMaskedLmCheckpoint) {
  TF_REQUIRE_SHARED_MODELS();
  const std::string dir = (tf::test::shared_models() / "trained" / "bert-shakespeare").string();
  auto m = TextClassifier::load(dir, 4, 5);
  EXPECT_EQ(m->num_labels(), 4);
  // The encoder's weights are the checkpoint's (f16 up-cast); the head is new.
  const auto ckpt = safetensors::Checkpoint::open_dir(dir);
  for (const NamedParam& p : m->parameters()) {
    if (!ckpt.contains(p.name)) {
      EXPECT_TRUE(p.name.starts_with("bert.pooler.") || p.name.starts_with("classifier.")) << p.name;
      continue;
    }
    const Tensor want = ckpt.tensor(p.name).to(DType::F32);
    ASSERT_EQ(want.shape(), p.var.shape()) << p.name;
    for (int64_t i = 0; i < p.var.numel(); i += 97) ASSERT_EQ(p.var.data()[i], want.data_as<float>()[i]) << p.name;
  }
  const Var logits = m->logits({{101, 2000, 2022, 102}});
  EXPECT_EQ(logits.shape(), (Shape{1, 4}));
  for (int64_t i = 0; i < 4; ++i) EXPECT_TRUE(std::isfinite(logits.data()[i]));
}

}  // namespace
}  // namespace tf::train
