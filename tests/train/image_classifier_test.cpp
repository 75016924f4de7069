// tf::train::ImageClassifier: config checking, gradients through a small CNN
// with BatchNorm, learning a synthetic image task, save/load.
#include <gtest/gtest.h>

#include "common/test_paths.h"
#include "grad_check.h"
#include "tf/error.h"
#include "tf/optim.h"
#include "tf/train_model.h"
#include "tf/train_ops.h"

namespace tf::train {
namespace {

// 8x8 one-channel images: class k has a bright 4x4 quadrant k, plus noise.
void make_images(int64_t n, uint64_t seed, std::vector<float>& pixels, std::vector<int32_t>& labels) {
  Rng rng(seed);
  pixels.assign(size_t(n * 64), 0.0f);
  labels.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t k = int32_t(rng.below(4));
    labels[size_t(i)] = k;
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x) {
        const bool on = (y / 4) * 2 + (x / 4) == k;
        pixels[size_t(i * 64 + y * 8 + x)] = (on ? 0.8f : 0.1f) + 0.2f * rng.normal();
      }
  }
}

const nlohmann::json kCnn = {{"image", {1, 8, 8}},
                             {"num_classes", 4},
                             {"conv", {{{"channels", 4}, {"kernel", 3}, {"padding", 1}, {"pool", 2}}}},
                             {"hidden", {8}},
                             {"batch_norm", true}};

TEST(ImageClassifier, RejectsBadConfigs) {
  EXPECT_THROW(ImageClassifier::init({{"image", {1, 8, 8}}}, 0), Error);  // no num_classes
  EXPECT_THROW(ImageClassifier::init({{"image", {1, 8, 8}}, {"num_classes", 3}, {"colour", true}}, 0), Error);
  EXPECT_THROW(ImageClassifier::init({{"image", {1, 4, 4}}, {"num_classes", 3}, {"conv", {{{"channels", 2}, {"kernel", 7}}}}}, 0),
               Error);
  EXPECT_THROW(ImageClassifier::init({{"image", {1, 4, 4}}, {"num_classes", 3}, {"activation", "swoosh"}}, 0), Error);
}

TEST(ImageClassifier, NamesAndInit) {
  auto m = ImageClassifier::init(kCnn, 1);
  std::vector<std::string> names;
  for (const NamedParam& p : m->parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.0.weight", "conv.0.bias", "conv_bn.0.weight", "conv_bn.0.bias",
                                              "fc.0.weight", "fc.0.bias", "fc_bn.0.weight", "fc_bn.0.bias",
                                              "head.weight", "head.bias"}));
  EXPECT_EQ(m->buffers().size(), 4u);
  const Var w = m->parameters()[0].var;  // fan_in 9: U(±1/3)
  for (int64_t i = 0; i < w.numel(); ++i) EXPECT_LE(std::fabs(w.data()[i]), 1.0f / 3.0f);
  EXPECT_EQ(m->input_size(), 64);
}

TEST(ImageClassifier, GradientsThroughCnnWithBatchNorm) {
  // Smooth activation and average pooling: finite differences across ReLU or
  // max-pool kinks are not derivatives (the ops' own checks cover those).
  nlohmann::json config = kCnn;
  config["activation"] = "tanh";
  config["conv"][0]["pool_type"] = "avg";
  auto m = ImageClassifier::init(config, 2);
  std::vector<float> pixels;
  std::vector<int32_t> labels;
  make_images(5, 3, pixels, labels);
  std::vector<Var> params = m->parameter_vars();
  // A subset keeps the finite differences quick: conv weights, BN weight, head.
  test::check_gradients([&](const std::vector<Var>&) { return m->loss(pixels, labels, 5); },
                        {params[0], params[2], params[8], params[9]}, {.h = 3e-3f, .atol = 2e-3, .rtol = 1e-2});
}

TEST(ImageClassifier, CnnAndMlpLearnQuadrants) {
  std::vector<float> train_px, test_px;
  std::vector<int32_t> train_y, test_y;
  make_images(256, 4, train_px, train_y);
  make_images(128, 5, test_px, test_y);
  for (const nlohmann::json& config :
       {kCnn, nlohmann::json{{"image", {1, 8, 8}}, {"num_classes", 4}, {"hidden", {32}}, {"dropout", 0.1}}}) {
    auto m = ImageClassifier::init(config, 6);
    Adam opt(decay_groups(m->parameter_vars()), adamw_options(1e-2f, 0.0f));
    for (int epoch = 0; epoch < 6; ++epoch)
      for (int64_t b = 0; b < 256; b += 32) {
        Tape tape;
        const Var loss = m->loss(std::span(train_px).subspan(size_t(b * 64), 32 * 64),
                                 std::span(train_y).subspan(size_t(b), 32), 32);
        opt.zero_grad();
        tape.backward(loss);
        opt.step();
      }
    m->set_training(false);
    const Var logits = m->logits(test_px, 128);
    int correct = 0;
    for (int64_t i = 0; i < 128; ++i) {
      const float* row = logits.data() + i * 4;
      correct += int32_t(std::max_element(row, row + 4) - row) == test_y[size_t(i)];
    }
    EXPECT_GE(correct, 124) << config.dump();
  }
}

TEST(ImageClassifier, SaveLoadRoundTrip) {
  auto m = ImageClassifier::init(kCnn, 7);
  std::vector<float> pixels;
  std::vector<int32_t> labels;
  make_images(6, 8, pixels, labels);
  {
    Tape tape;  // one training forward moves the running statistics
    m->loss(pixels, labels, 6);
  }
  m->set_training(false);
  const Var before = m->logits(pixels, 6);
  tf::test::TempDir dir;
  m->save(dir.path().string());
  auto back = ImageClassifier::load(dir.path().string());
  back->set_training(false);
  const Var after = back->logits(pixels, 6);
  for (int64_t i = 0; i < before.numel(); ++i) EXPECT_EQ(before.data()[i], after.data()[i]);
}

}  // namespace
}  // namespace tf::train
