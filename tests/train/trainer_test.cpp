// The training driver: configuration rules, records, checkpoints that are
// model folders, and a resumed run that continues bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error_of.h"
#include "common/test_paths.h"
#include "tf/atomic_file.h"
#include "tf/checkpoint.h"
#include "tf/error.h"
#include "tf/json_file.h"
#include "tf/rng.h"
#include "tf/tokenizer.h"
#include "tf/trainer.h"

namespace tf::train {
namespace {

namespace fs = std::filesystem;
using tf::test::error_of;
using tf::test::TempDir;

std::string corpus() {
  std::string text;
  const char* lines[] = {"the king is dead, long live the king.", "to be or not to be, that is the question.",
                         "all the world's a stage, and all the men and women merely players.",
                         "now is the winter of our discontent."};
  for (int i = 0; i < 40; ++i) text += std::string(lines[i % 4]) + "\n";
  return text;
}

// A one-layer GPT-2 with a BPE vocabulary trained on the corpus: a model
// folder (config.json + tokenizer.json) and the text, written into `dir`.
struct Fixture {
  std::string model_dir, text;
  explicit Fixture(const TempDir& dir) {
    model_dir = dir / "tiny-gpt2";
    fs::create_directories(model_dir);
    const std::string tok_json = train_tokenizer(corpus(), {TokenizerAlgorithm::BytePairEncoding, 300, 2});
    std::ofstream(model_dir + "/tokenizer.json") << tok_json;
    const size_t vocab = Tokenizer::from_hf_json(tok_json, "", "tok").vocab_size();
    write_json_file(model_dir + "/config.json",
                    {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"n_layer", 1}, {"n_embd", 32},
                     {"n_head", 2}, {"n_positions", 64}, {"n_ctx", 64}, {"vocab_size", vocab},
                     {"activation_function", "gelu_new"}, {"layer_norm_epsilon", 1e-5},
                     {"initializer_range", 0.02}, {"tie_word_embeddings", true},
                     {"attn_pdrop", 0.0}, {"embd_pdrop", 0.0}, {"resid_pdrop", 0.0}});
    text = dir / "text.txt";
    std::ofstream(text) << corpus();
  }
  nlohmann::json config(const std::string& out) const {
    return {{"model_config", model_dir}, {"data", text}, {"steps", 6}, {"batch", 2}, {"seq", 16},
            {"lr", 3e-3},  {"warmup", 2},   {"eval_every", 3}, {"save_every", 3}, {"out", out}, {"seed", 7},
            {"threads", 1}};
  }
};

std::vector<nlohmann::json> train(const nlohmann::json& given) {
  std::vector<nlohmann::json> records;
  run_training(resolve_train_config(given), [&](const nlohmann::json& r) { records.push_back(r); });
  return records;
}

std::vector<nlohmann::json> of_type(const std::vector<nlohmann::json>& records, const std::string& type) {
  std::vector<nlohmann::json> out;
  for (const auto& r : records)
    if (r["type"] == type) out.push_back(r);
  return out;
}

TEST(Trainer, ConfigIsStrict) {
  EXPECT_NE(error_of([] { TrainConfig::from_json({{"stpes", 3}}); }).find("unknown key 'stpes'"), std::string::npos);
  EXPECT_NE(error_of([] { TrainConfig::from_json({{"steps", "3"}}); }).find("'steps' must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of([] { TrainConfig::from_json({{"seed", -1}}); }).find("'seed' must be a non-negative"),
            std::string::npos);
  EXPECT_NE(error_of([] { resolve_train_config({{"data", "x"}}); }).find("exactly one of model_config"),
            std::string::npos);
  EXPECT_NE(error_of([] { resolve_train_config({{"data", "x"}, {"init_from", "m"}, {"optimizer", "lion"}}); })
                .find("optimizer 'lion'"),
            std::string::npos);
  TrainConfig c = TrainConfig::from_json({{"lr", 0.5}, {"steps", 9}});
  EXPECT_EQ(TrainConfig::from_json(c.to_json()).to_json(), c.to_json());
}

TEST(Trainer, TrainsSavesAndResumesBitExactly) {
  TempDir dir;
  Fixture fx(dir);
  const std::vector<nlohmann::json> full = train(fx.config(dir / "full"));

  const auto data = of_type(full, "data");
  ASSERT_EQ(data.size(), 1u);
  EXPECT_GT(data[0]["valid_tokens"].get<int>(), 0);
  const auto steps = of_type(full, "train");
  ASSERT_EQ(steps.size(), 6u);
  for (const auto& r : steps)
    for (const char* key : {"step", "loss", "lr", "grad_norm", "tok_per_s"}) EXPECT_TRUE(r.contains(key)) << key;
  EXPECT_LT(steps.back()["loss"].get<double>(), steps.front()["loss"].get<double>());
  const auto evals = of_type(full, "eval");
  ASSERT_EQ(evals.size(), 2u);  // step 3 and the end
  EXPECT_EQ(evals[1]["step"], 6);
  EXPECT_NEAR(evals[1]["ppl"].get<double>(), std::exp(evals[1]["loss"].get<double>()), 1e-9);
  const auto cks = of_type(full, "checkpoint");
  ASSERT_EQ(cks.size(), 2u);
  EXPECT_EQ(cks[0]["path"], dir / "full/checkpoint-3");
  EXPECT_EQ(cks[1]["final"], true);
  const auto models = of_type(full, "model");
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0]["path"], dir / "full/final");
  EXPECT_EQ(models[0]["format"], "hf");
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", kTrainingStateFile})
    EXPECT_TRUE(fs::exists(dir / ("full/checkpoint-3/" + std::string(f)))) << f;

  // a changed hyperparameter would break the continuation
  nlohmann::json bad = {{"resume", dir / "full/checkpoint-3"}, {"seq", 32}};
  EXPECT_NE(error_of([&] { resolve_train_config(bad); }).find("'seq' cannot change when resuming"), std::string::npos);

  // the same values given again are no change (3e-3 as given and as the float saved)
  const std::vector<nlohmann::json> resumed =
      train({{"resume", dir / "full/checkpoint-3"}, {"out", dir / "resumed"}, {"lr", 3e-3}, {"seq", 16}});
  const auto rsteps = of_type(resumed, "train");
  ASSERT_EQ(rsteps.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rsteps[i]["step"], steps[3 + i]["step"]);
    EXPECT_EQ(rsteps[i]["loss"].get<double>(), steps[3 + i]["loss"].get<double>()) << "step " << 4 + i;
    EXPECT_EQ(rsteps[i]["grad_norm"].get<double>(), steps[3 + i]["grad_norm"].get<double>());
    EXPECT_EQ(rsteps[i]["lr"].get<double>(), steps[3 + i]["lr"].get<double>());
  }
  EXPECT_EQ(of_type(resumed, "eval").back()["loss"].get<double>(), evals.back()["loss"].get<double>());
  EXPECT_EQ(sha256_file(dir / "resumed/final/model.safetensors"), sha256_file(dir / "full/final/model.safetensors"));
  EXPECT_EQ(of_type(resumed, "checkpoint").back()["sha256"], cks.back()["sha256"]);
}

TEST(Trainer, GradientAccumulationEqualsTheWholeBatch) {
  // two micro-batches of one window see the windows one batch of two sees
  TempDir dir;
  Fixture fx(dir);
  nlohmann::json whole = fx.config(dir / "whole"), accum = fx.config(dir / "accum");
  whole["steps"] = accum["steps"] = 2;
  whole["save_every"] = accum["save_every"] = 0;
  accum["batch"] = 1;
  accum["grad_accum"] = 2;
  const auto a = of_type(train(whole), "train"), b = of_type(train(accum), "train");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(a[i]["loss"].get<double>(), b[i]["loss"].get<double>(), 1e-5) << i;
    EXPECT_NEAR(a[i]["grad_norm"].get<double>(), b[i]["grad_norm"].get<double>(), 1e-5) << i;
    EXPECT_EQ(a[i]["tokens"], b[i]["tokens"]);
  }
}

TEST(Trainer, CheckpointIsAModelFolderThatLoadsBack) {
  TempDir dir;
  Fixture fx(dir);
  nlohmann::json cfg = fx.config(dir / "out");
  cfg["steps"] = 2;
  cfg["save_gguf"] = "f32";
  // a read-only source (a shared model zoo) must not make the checkpoint read-only
  fs::permissions(fx.model_dir + "/tokenizer.json", fs::perms::owner_read);
  const auto records = train(cfg);
  const auto models = of_type(records, "model");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]["path"], dir / "out/final");
  EXPECT_EQ(models[1]["format"], "gguf");
  EXPECT_TRUE(fs::exists(models[1]["path"].get<std::string>()));
  // the folder is what transformers writes: f32 tensors under HF names, tied weights once
  auto lm = LanguageModel::load(dir / "out/final");
  uint64_t params = 0;
  for (const NamedParam& p : lm->parameters()) params += uint64_t(p.var.numel());
  EXPECT_EQ(models[0]["params"].get<uint64_t>(), params);
  const nlohmann::json config = read_json_file(dir / "out/final/config.json");
  EXPECT_EQ(config["dtype"], "float32");
  EXPECT_EQ(config["n_embd"], 32);
  EXPECT_NE(fs::status(dir / "out/final/tokenizer.json").permissions() & fs::perms::owner_write, fs::perms::none);
  // (tf-run loads both files with the training loop's numbers: tests/e2e/tf_run_train_test.cpp)
  // a corrupt state is refused with its name
  std::ofstream(dir / "out/final/training_state.zst", std::ios::binary | std::ios::trunc) << "TFSTATE1xxxx";
  EXPECT_NE(error_of([&] { train({{"resume", dir / "out/final"}, {"out", dir / "again"}}); })
                .find("training_state.zst: not a trustformers training state"),
            std::string::npos);
}

// Two classes of 8x8 images: the bright half is the left or the right one.
void write_idx_images(const std::string& images, const std::string& labels, int n, uint64_t seed) {
  Rng rng(seed);
  std::string img = {0, 0, 8, 3, 0, 0, char(n >> 8), char(n & 255), 0, 0, 0, 8, 0, 0, 0, 8};
  std::string lab = {0, 0, 8, 1, 0, 0, char(n >> 8), char(n & 255)};
  for (int i = 0; i < n; ++i) {
    const int cls = int(rng.below(2));
    lab += char(cls);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        const bool bright = (x < 4) == (cls == 0);
        img += char(uint8_t((bright ? 150 : 40) + rng.below(60)));
      }
  }
  std::ofstream(images, std::ios::binary) << img;
  std::ofstream(labels, std::ios::binary) << lab;
}

TEST(Trainer, ClassifiesImagesAndResumesBitExactly) {
  TempDir dir;
  write_idx_images(dir / "train-images", dir / "train-labels", 200, 1);
  write_idx_images(dir / "test-images", dir / "test-labels", 60, 2);
  write_json_file(dir / "mlp.json", {{"model_type", "image_classifier"}, {"image", {1, 8, 8}}, {"num_classes", 2},
                                     {"hidden", {16}}, {"batch_norm", true}});
  const nlohmann::json cfg = {{"task", "classify-image"}, {"model_config", dir / "mlp.json"},
                              {"data", dir / "train-images"}, {"labels", dir / "train-labels"},
                              {"valid_data", dir / "test-images"}, {"valid_labels", dir / "test-labels"},
                              {"steps", 30}, {"batch", 16}, {"lr", 1e-2}, {"save_every", 10}, {"eval_every", 10},
                              {"out", dir / "full"}, {"threads", 1}};
  const auto full = train(cfg);
  const auto data = of_type(full, "data");
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["train_samples"], 200);
  EXPECT_EQ(data[0]["valid_samples"], 60);
  const auto evals = of_type(full, "eval");
  ASSERT_EQ(evals.size(), 3u);
  EXPECT_GE(evals.back()["accuracy"].get<double>(), 0.95);
  EXPECT_EQ(evals.back()["n_samples"], 60);
  const auto steps = of_type(full, "train");
  ASSERT_EQ(steps.size(), 30u);
  EXPECT_EQ(steps[0]["samples"], 16);
  EXPECT_TRUE(steps[0].contains("samples_per_s"));

  const auto resumed = of_type(train({{"resume", dir / "full/checkpoint-20"}, {"out", dir / "resumed"}}), "train");
  ASSERT_EQ(resumed.size(), 10u);
  for (size_t i = 0; i < 10; ++i)
    EXPECT_EQ(resumed[i]["loss"].get<double>(), steps[20 + i]["loss"].get<double>()) << "step " << 21 + i;
  // weights and BatchNorm running statistics alike
  EXPECT_EQ(sha256_file(dir / "resumed/final/model.safetensors"), sha256_file(dir / "full/final/model.safetensors"));

  // the held-out split when no valid set is given, and the checks on shapes
  nlohmann::json split = cfg;
  split.erase("valid_data");
  split.erase("valid_labels");
  split["steps"] = 1;
  split["out"] = dir / "split";
  EXPECT_EQ(of_type(train(split), "data")[0]["valid_samples"], 20);
  write_json_file(dir / "wide.json", {{"image", {1, 9, 9}}, {"num_classes", 2}});
  split["model_config"] = dir / "wide.json";
  EXPECT_NE(error_of([&] { train(split); }).find("images of 8x8 pixels, the model takes 81 inputs"),
            std::string::npos);
  split["save_gguf"] = "f32";
  EXPECT_NE(error_of([&] { resolve_train_config(split); }).find("save_gguf is for language models"),
            std::string::npos);
}

TEST(Trainer, ClassifiesTextAndResumesBitExactly) {
  TempDir dir;
  // which of two word families a line is made of
  const char* happy[] = {"joy", "merry", "glad", "sweet", "fair", "love"};
  const char* grim[] = {"woe", "grief", "death", "foul", "curse", "tears"};
  Rng rng(4);
  std::string lines, corpus;
  for (int i = 0; i < 120; ++i) {
    const bool pos = rng.below(2) == 1;
    std::string text;
    for (int w = 0; w < 6; ++w) text += std::string(w ? " " : "") + (pos ? happy : grim)[rng.below(6)];
    corpus += text + "\n";
    lines += nlohmann::json{{"text", text}, {"label", pos ? "happy" : "grim"}}.dump() + "\n";
  }
  std::ofstream(dir / "train.jsonl") << lines;
  const std::string model_dir = dir / "tiny-bert";
  fs::create_directories(model_dir);
  const std::string tok = train_tokenizer(corpus, {TokenizerAlgorithm::WordPiece, 60, 1});
  std::ofstream(model_dir + "/tokenizer.json") << tok;
  write_json_file(model_dir + "/config.json",
                  {{"model_type", "bert"}, {"architectures", {"BertForMaskedLM"}}, {"hidden_size", 32},
                   {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"intermediate_size", 64},
                   {"max_position_embeddings", 64}, {"type_vocab_size", 2}, {"hidden_act", "gelu"},
                   {"layer_norm_eps", 1e-12}, {"pad_token_id", 0},
                   {"vocab_size", Tokenizer::from_hf_json(tok, "", "tok").vocab_size()}});
  const nlohmann::json cfg = {{"task", "classify-text"}, {"model_config", model_dir}, {"data", dir / "train.jsonl"},
                              {"valid_fraction", 0.25}, {"steps", 30}, {"batch", 8}, {"seq", 16}, {"lr", 3e-3},
                              {"save_every", 15}, {"eval_every", 15}, {"out", dir / "full"}, {"threads", 1}};
  const auto full = train(cfg);
  const auto data = of_type(full, "data");
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["train_samples"], 90);
  EXPECT_EQ(data[0]["valid_samples"], 30);
  EXPECT_EQ(data[0]["labels"], nlohmann::json({"grim", "happy"}));
  const auto evals = of_type(full, "eval");
  ASSERT_EQ(evals.size(), 2u);
  EXPECT_GE(evals.back()["accuracy"].get<double>(), 0.9);
  const nlohmann::json saved = read_json_file(dir / "full/final/config.json");
  EXPECT_EQ(saved["id2label"]["1"], "happy");
  EXPECT_EQ(saved["label2id"]["grim"], 0);
  EXPECT_EQ(saved["architectures"][0], "BertForSequenceClassification");
  EXPECT_TRUE(fs::exists(dir / "full/final/tokenizer.json"));

  const auto steps = of_type(full, "train");
  const auto resumed = of_type(train({{"resume", dir / "full/checkpoint-15"}, {"out", dir / "resumed"}}), "train");
  ASSERT_EQ(resumed.size(), 15u);
  for (size_t i = 0; i < 15; ++i)
    EXPECT_EQ(resumed[i]["loss"].get<double>(), steps[15 + i]["loss"].get<double>()) << "step " << 16 + i;
  EXPECT_EQ(sha256_file(dir / "resumed/final/model.safetensors"), sha256_file(dir / "full/final/model.safetensors"));

  // a valid set with a label the model does not have
  std::ofstream(dir / "valid.jsonl") << "{\"text\":\"joy\",\"label\":\"meh\"}\n";
  nlohmann::json bad = cfg;
  bad["valid_data"] = dir / "valid.jsonl";
  EXPECT_NE(error_of([&] { train(bad); }).find("valid.jsonl:1: unknown label 'meh'"), std::string::npos);
}

}  // namespace
}  // namespace tf::train
