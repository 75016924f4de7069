// One AdamW step of a small GPT-2 against PyTorch 1.13: loss, gradients and
// updated parameters. The reference numbers (tests/train/data/
// gpt2_adamw_step.json) were produced by scripts/train_reference.py from the
// model and batch this test builds (seeded init, seeded batch); set
// TF_TRAIN_REFERENCE_DUMP=DIR to write them for the script. No torch is
// needed to run the test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "tf/json_file.h"
#include "tf/optim.h"
#include "tf/rng.h"
#include "tf/train_model.h"

namespace tf::train {
namespace {

constexpr int64_t kBatch = 2, kSeq = 16;
constexpr float kLr = 1e-2f, kBeta1 = 0.9f, kBeta2 = 0.95f, kEps = 1e-8f, kWeightDecay = 0.1f;

nlohmann::json config() {
  return {{"model_type", "gpt2"},  {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", 97},
          {"n_embd", 32},          {"n_layer", 2},                          {"n_head", 4},
          {"n_positions", 32},     {"n_ctx", 32},                           {"activation_function", "gelu_new"},
          {"layer_norm_epsilon", 1e-5}, {"initializer_range", 0.1},        {"tie_word_embeddings", true}};
}

void make_batch(std::vector<int32_t>& ids, std::vector<int32_t>& targets) {
  Rng rng(42);
  ids.resize(size_t(kBatch * kSeq));
  targets.resize(ids.size());
  for (auto& i : ids) i = int32_t(rng.below(97));
  for (size_t i = 0; i < ids.size(); ++i) targets[i] = i % 7 == 3 ? -100 : int32_t(rng.below(97));
}

TEST(TorchParity, Gpt2AdamWStep) {
  auto lm = LanguageModel::init(config(), 2024);
  std::vector<int32_t> ids, targets;
  make_batch(ids, targets);
  if (const char* dump = std::getenv("TF_TRAIN_REFERENCE_DUMP")) {
    lm->save_pretrained(dump);
    write_json_file(std::string(dump) + "/batch.json",
                    {{"ids", ids}, {"targets", targets}, {"batch", kBatch}, {"seq", kSeq}, {"lr", kLr},
                     {"beta1", kBeta1}, {"beta2", kBeta2}, {"eps", kEps}, {"weight_decay", kWeightDecay}});
  }
  const nlohmann::json ref =
      read_json_file((std::filesystem::path(TF_SOURCE_DIR) / "tests/train/data/gpt2_adamw_step.json").string());

  AdamOptions o = adamw_options(kLr, kWeightDecay);
  o.beta1 = kBeta1, o.beta2 = kBeta2, o.eps = kEps;
  Adam opt(decay_groups(lm->parameter_vars()), o);
  {
    Tape tape;
    const Var loss = lm->loss(ids, targets, kBatch, kSeq);
    EXPECT_NEAR(loss.item(), ref.at("loss").get<double>(), 1e-4 * ref.at("loss").get<double>());
    opt.zero_grad();
    tape.backward(loss);
  }
  const auto params = lm->parameters();
  double worst_grad = 0;  // largest |difference| / max(|reference|, 1% of that gradient's rms)
  ASSERT_EQ(params.size(), ref.at("params").size());
  for (const NamedParam& p : params) {
    const nlohmann::json& r = ref.at("params").at(p.name);
    const float* g = p.var.grad().data_as<float>();
    double norm = 0;
    for (int64_t i = 0; i < p.var.numel(); ++i) norm += double(g[i]) * g[i];
    norm = std::sqrt(norm);
    const double want_norm = r.at("grad_norm").get<double>();
    EXPECT_NEAR(norm, want_norm, 1e-4 * want_norm + 1e-9) << p.name;
    const double rms = want_norm / std::sqrt(double(p.var.numel()));
    for (size_t k = 0; k < r.at("indices").size(); ++k) {
      const int64_t at = r.at("indices")[k].get<int64_t>();
      const double want = r.at("grad")[k].get<double>();
      EXPECT_NEAR(g[at], want, 1e-4 * std::max(std::fabs(want), 0.01 * rms) + 1e-9) << p.name << "[" << at << "]";
      worst_grad = std::max(worst_grad, std::fabs(g[at] - want) / std::max(std::fabs(want), 0.01 * rms));
    }
  }
  RecordProperty("worst_relative_gradient_difference", std::to_string(worst_grad));
  opt.step();
  for (const NamedParam& p : params) {
    const nlohmann::json& r = ref.at("params").at(p.name);
    for (size_t k = 0; k < r.at("indices").size(); ++k) {
      const int64_t at = r.at("indices")[k].get<int64_t>();
      const double want = r.at("value_after")[k].get<double>();
      // Adam's first step moves a parameter by lr·g/(|g| + eps): where |g| is
      // not far above eps (the key bias, whose exact gradient is 0, gets
      // ~1e-10 of rounding) the step is rounding noise on either side.
      if (std::fabs(r.at("grad")[k].get<double>()) < 100 * kEps) continue;
      EXPECT_NEAR(p.var.data()[at], want, 1e-4 * std::fabs(want) + 1e-6) << p.name << "[" << at << "] after the step";
    }
  }
  NoGrad no_grad;
  const double after = lm->loss(ids, targets, kBatch, kSeq).item();
  EXPECT_NEAR(after, ref.at("loss_after").get<double>(), 1e-4 * ref.at("loss_after").get<double>());
}

}  // namespace
}  // namespace tf::train
