// The trainable decoder LM (tf/train_model.h): its forward equals the
// inference engine's on the same weights (through a saved HF folder, so the
// checkpoint layout is checked too), it reproduces transformers' golden
// logits from a real checkpoint, and its fused loss equals the composed one.
#include "tf/train_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/test_paths.h"
#include "tf/convert.h"
#include "tf/model.h"
#include "tf/optim.h"
#include "tf/rng.h"
#include "tf/safetensors.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

nlohmann::json tiny_gpt2() {
  return {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", 61}, {"n_embd", 32},
          {"n_layer", 2},          {"n_head", 4},                            {"n_positions", 16}, {"n_ctx", 16},
          {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5}, {"initializer_range", 0.2},
          {"tie_word_embeddings", true}};
}

nlohmann::json tiny_llama(bool tied) {
  return {{"model_type", "llama"},    {"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 53},
          {"hidden_size", 32},        {"intermediate_size", 48},               {"num_hidden_layers", 2},
          {"num_attention_heads", 4}, {"num_key_value_heads", 2},              {"max_position_embeddings", 32},
          {"rms_norm_eps", 1e-5},     {"rope_theta", 10000.0},                 {"hidden_act", "silu"},
          {"initializer_range", 0.2}, {"tie_word_embeddings", tied}};
}

std::vector<int32_t> random_ids(size_t n, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(n);
  for (int32_t& id : ids) id = int32_t(rng.below(uint64_t(vocab)));
  return ids;
}

// Saves the model, loads the folder with the inference engine and compares
// every position's logits, sequence by sequence.
void expect_matches_inference(LanguageModel& lm, int64_t batch, int64_t seq) {
  test::TempDir dir;
  lm.save_pretrained(dir.path().string());
  const auto model = CausalLM::load(dir.path().string());
  const int64_t V = lm.config().vocab_size;
  const std::vector<int32_t> ids = random_ids(size_t(batch * seq), V, 3);
  const Var logits = lm.logits(ids, batch, seq);
  ASSERT_EQ(logits.shape(), (Shape{batch * seq, V}));
  for (int64_t b = 0; b < batch; ++b) {
    SessionOptions so;
    so.kv_type = DType::F32;
    Session session(*model, so);
    ForwardOutputs out;
    out.want_all_logits = true;
    session.eval(ids.data() + b * seq, size_t(seq), &out);
    ASSERT_EQ(out.logits.size(), size_t(seq * V));
    double max_diff = 0;
    for (int64_t i = 0; i < seq * V; ++i)
      max_diff = std::max(max_diff, std::fabs(double(out.logits[size_t(i)]) - logits.data()[b * seq * V + i]));
    EXPECT_LE(max_diff, 1e-4) << "sequence " << b;
  }
}

TEST(LanguageModel, Gpt2ForwardEqualsInference) {
  auto lm = LanguageModel::init(tiny_gpt2(), 1);
  EXPECT_EQ(lm->parameters().front().name, "transformer.wte.weight");
  EXPECT_EQ(lm->parameters()[3].name, "transformer.h.0.ln_1.bias");
  for (const NamedParam& p : lm->parameters()) EXPECT_NE(p.name, "lm_head.weight");  // tied
  expect_matches_inference(*lm, 2, 7);
}

TEST(LanguageModel, LlamaForwardEqualsInference) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    auto lm = LanguageModel::init(tiny_llama(tied), 2);
    expect_matches_inference(*lm, 2, 9);
  }
}

TEST(LanguageModel, InitFollowsTransformers) {
  auto lm = LanguageModel::init(tiny_gpt2(), 5);
  for (const NamedParam& p : lm->parameters()) {
    const Var& v = p.var;
    double s = 0, ss = 0;
    for (int64_t i = 0; i < v.numel(); ++i) s += v.data()[i], ss += double(v.data()[i]) * v.data()[i];
    const double mean = s / double(v.numel()), sd = std::sqrt(ss / double(v.numel()) - mean * mean);
    if (p.name.ends_with(".bias")) {
      EXPECT_EQ(ss, 0.0) << p.name;
    } else if (p.name.find("ln_") != std::string::npos) {
      EXPECT_EQ(mean, 1.0) << p.name;
    } else {
      const double want = p.name.ends_with("c_proj.weight") ? 0.2 / std::sqrt(4.0) : 0.2;
      EXPECT_NEAR(sd, want, 0.15 * want) << p.name;
    }
  }
  // Same seed, same weights; another seed, others.
  auto again = LanguageModel::init(tiny_gpt2(), 5), other = LanguageModel::init(tiny_gpt2(), 6);
  const Var a = lm->parameters()[0].var, b = again->parameters()[0].var, c = other->parameters()[0].var;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), size_t(a.numel()) * 4), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), size_t(a.numel()) * 4), 0);
}

TEST(LanguageModel, FusedLossEqualsComposedWithGradients) {
  for (const nlohmann::json& config : {tiny_gpt2(), tiny_llama(false)}) {
    auto lm = LanguageModel::init(config, 7);
    const int64_t B = 2, T = 6, V = lm->config().vocab_size;
    const std::vector<int32_t> ids = random_ids(size_t(B * T), V, 8);
    std::vector<int32_t> targets = random_ids(size_t(B * T), V, 9);
    targets[3] = -100;
    std::vector<Tensor> fused_grads;
    float fused;
    {
      Tape tape;
      const Var loss = lm->loss(ids, targets, B, T);
      fused = loss.item();
      tape.backward(loss);
      for (NamedParam& p : lm->parameters()) {
        fused_grads.push_back(p.var.grad().clone());
        p.var.zero_grad();
      }
    }
    Tape tape;
    const Var loss = cross_entropy(lm->logits(ids, B, T), targets);
    EXPECT_NEAR(fused, loss.item(), 1e-5);
    tape.backward(loss);
    const auto params = lm->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const float *g = params[i].var.grad().data_as<float>(), *f = fused_grads[i].data_as<float>();
      for (int64_t j = 0; j < params[i].var.numel(); ++j)
        ASSERT_NEAR(f[j], g[j], 1e-5 + 1e-4 * std::fabs(g[j])) << params[i].name << " " << j;
    }
  }
}

TEST(LanguageModel, LearnsARepeatedSequence) {
  auto lm = LanguageModel::init(tiny_llama(true), 11);
  const int64_t B = 2, T = 12;
  std::vector<int32_t> ids(size_t(B * T)), targets(size_t(B * T));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7) % 13), targets[i] = int32_t(((i + 1) * 7) % 13);
  Adam opt(decay_groups(lm->parameter_vars()), adamw_options(1e-2f, 0.0f));
  float first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    Tape tape;
    const Var loss = lm->loss(ids, targets, B, T);
    (step == 0 ? first : last) = loss.item();
    opt.zero_grad();
    tape.backward(loss);
    opt.step();
  }
  EXPECT_GT(first, 3.0f);
  EXPECT_LT(last, 0.1f);
}

TEST(LanguageModel, DropoutOnlyInTrainingMode) {
  auto lm = LanguageModel::init(tiny_gpt2(), 3);  // no *_pdrop fields: transformers' 0.1 each
  EXPECT_FALSE(lm->training());
  const std::vector<int32_t> ids = random_ids(14, 61, 4);
  const Var eval1 = lm->logits(ids, 2, 7), eval2 = lm->logits(ids, 2, 7);
  lm->set_training(true);
  lm->set_dropout_seed(5);
  const Var train1 = lm->logits(ids, 2, 7);
  const Var train2 = lm->logits(ids, 2, 7);  // the generator moved on
  lm->set_dropout_seed(5);
  const Var train1_again = lm->logits(ids, 2, 7);
  int differ_eval = 0, differ_next = 0;
  for (int64_t i = 0; i < eval1.numel(); ++i) {
    EXPECT_EQ(eval1.data()[i], eval2.data()[i]);
    EXPECT_EQ(train1.data()[i], train1_again.data()[i]);
    differ_eval += train1.data()[i] != eval1.data()[i];
    differ_next += train1.data()[i] != train2.data()[i];
  }
  EXPECT_GT(differ_eval, eval1.numel() / 2);
  EXPECT_GT(differ_next, eval1.numel() / 2);
  // With every dropout at 0 training mode is eval mode.
  nlohmann::json config = tiny_gpt2();
  config["embd_pdrop"] = 0.0, config["attn_pdrop"] = 0.0, config["resid_pdrop"] = 0.0;
  auto plain = LanguageModel::init(config, 3);
  plain->set_training(true);
  const Var p = plain->logits(ids, 2, 7);
  for (int64_t i = 0; i < p.numel(); ++i) EXPECT_EQ(p.data()[i], eval1.data()[i]);
}

// transformers' golden logits (computed in f32 from the folder's weights).
void expect_golden_logits(const std::string& folder, double tolerance, uint64_t n_params = 0) {
  auto lm = LanguageModel::load(folder);
  if (n_params) {
    EXPECT_EQ(lm->parameter_count(), n_params);
  }
  EXPECT_EQ(lm->config_json().at("dtype"), "float32");
  const auto golden = safetensors::File::open(folder + "/golden.safetensors");
  for (int s = 0; s < 2; ++s) {
    const Tensor ids64 = golden.tensor("input_ids_" + std::to_string(s));
    const Tensor want = golden.tensor("logits_" + std::to_string(s));
    std::vector<int32_t> ids;
    for (int64_t i = 0; i < ids64.numel(); ++i) ids.push_back(int32_t(ids64.data_as<int64_t>()[i]));
    const Var got = lm->logits(ids, 1, int64_t(ids.size()));
    ASSERT_EQ(got.shape(), want.shape());
    double max_diff = 0;
    for (int64_t i = 0; i < got.numel(); ++i)
      max_diff = std::max(max_diff, std::fabs(double(got.data()[i]) - want.data_as<float>()[i]));
    EXPECT_LE(max_diff, tolerance) << folder << " sequence " << s;
  }
}

TEST(LanguageModel, GoldenLogitsOfTrainedAndParityModels) {
  TF_REQUIRE_SHARED_MODELS();
  const auto models = test::shared_models();
  expect_golden_logits((models / "trained" / "gpt2-shakespeare").string(), 1e-4, 16156416);  // f16 checkpoint
  expect_golden_logits((models / "trained" / "llama-shakespeare").string(), 1e-4, 11340032);  // bf16, GQA
  expect_golden_logits((models / "parity" / "gpt2").string(), 1e-5);
  expect_golden_logits((models / "parity" / "llama").string(), 1e-5);
  expect_golden_logits((models / "parity" / "mistral").string(), 1e-5);
  expect_golden_logits((models / "parity" / "qwen2").string(), 1e-5);
}

TEST(LanguageModel, LlamaShakespeareGgufEqualsFolder) {
  TF_REQUIRE_SHARED_MODELS();
  const auto dir = test::shared_models() / "trained" / "llama-shakespeare";
  auto from_folder = LanguageModel::load(dir.string());
  auto from_gguf = LanguageModel::load((dir / "llama-shakespeare-f16.gguf").string());
  const auto a = from_folder->parameters(), b = from_gguf->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].name, b[i].name);
    ASSERT_EQ(a[i].var.shape(), b[i].var.shape()) << a[i].name;
    // bf16 in the folder, f16 in the GGUF: equal to f16 rounding.
    for (int64_t j = 0; j < a[i].var.numel(); ++j)
      ASSERT_NEAR(a[i].var.data()[j], b[i].var.data()[j], 2e-3 * std::fabs(a[i].var.data()[j]) + 1e-6)
          << a[i].name << " " << j;
  }
}

// llama.cpp's GPT-2 GGUF (what tf-convert writes too) stores the tied head as
// output.weight: it loads as an untied lm_head equal to the embeddings.
TEST(LanguageModel, Gpt2GgufLoadsWithItsHeadCopy) {
  TF_REQUIRE_SHARED_MODELS();
  const auto dir = test::shared_models() / "trained" / "gpt2-shakespeare";
  test::TempDir tmp;
  const std::string gguf = tmp / "gpt2.gguf";
  HfToGgufOptions opt;
  opt.outtype = "f32";
  convert_hf_to_gguf(dir.string(), gguf, opt);
  auto from_folder = LanguageModel::load(dir.string());
  auto from_gguf = LanguageModel::load(gguf);
  const std::vector<int32_t> ids = {10, 20, 30, 40, 50, 60};
  Var a = from_folder->logits(ids, 1, 6), b = from_gguf->logits(ids, 1, 6);
  ASSERT_EQ(a.value().shape(), b.value().shape());
  for (int64_t i = 0; i < a.value().numel(); ++i) ASSERT_NEAR(a.data()[i], b.data()[i], 1e-4) << i;
}

}  // namespace
}  // namespace tf::train
