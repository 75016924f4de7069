// Trainable decoder-only language models (GPT-2, LLaMA) on tf::train::Var.
//
// Parameters are held exactly as transformers stores them — same names
// ("transformer.h.0.attn.c_attn.weight"), same layouts (GPT-2's Conv1D
// weights [in, out], LLaMA's q/k rows in HF's rotate-half order), tied
// weights once — so that saving them as model.safetensors next to the
// config.json gives a folder that tf-run (tf::CausalLM) and transformers both
// load without conversion.
//
//   auto lm = tf::train::LanguageModel::init(config_json, /*seed=*/0);
//   tf::train::Adam opt(tf::train::decay_groups(lm->parameter_vars()), tf::train::adamw_options(1e-3f, 0.1f));
//   {
//     tf::train::Tape tape;
//     tf::train::Var loss = lm->loss(ids, targets, batch, seq);
//     opt.zero_grad();
//     tape.backward(loss);
//     opt.step();
//   }
//   lm->save_pretrained("out/");   // config.json + model.safetensors
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/autograd.h"
#include "tf/hf_config.h"

namespace tf::train {

struct NamedParam {
  std::string name;  // the HF checkpoint key ("transformer.h.0.attn.c_attn.weight")
  Var var;
};

class LanguageModel {
 public:
  // A new model from config.json content (transformers format, parsed with
  // hf::parse_config). Initialised as transformers does: weights
  // normal(0, initializer_range), biases zero, norm weights one; GPT-2's
  // residual projections (c_proj) normal(0, initializer_range/√(2·n_layer)).
  // Deterministic in `seed`. Supported: gpt2, llama (and mistral/qwen2 shapes
  // that are llama with or without q/k/v biases).
  static std::unique_ptr<LanguageModel> init(const nlohmann::json& config_json, uint64_t seed);
  // Trainable f32 copies of a Hugging Face folder's or a GGUF file's weights
  // (half precision up-cast; GGUF layouts converted back to HF's).
  static std::unique_ptr<LanguageModel> load(const std::string& path);

  ~LanguageModel();
  LanguageModel(const LanguageModel&) = delete;
  LanguageModel& operator=(const LanguageModel&) = delete;

  const hf::Config& config() const;
  const nlohmann::json& config_json() const;  // written back as config.json by checkpoints

  // Stable order (embeddings, layers in order, final norm, lm_head when not
  // tied), HF key names; tied weights appear once.
  std::vector<NamedParam> parameters() const;
  std::vector<Var> parameter_vars() const;
  uint64_t parameter_count() const;

  // Training mode applies the config's dropout as transformers' model.train()
  // does — GPT-2: embd_pdrop, attn_pdrop, resid_pdrop (transformers' default
  // 0.1 each when absent); LLaMA family: attention_dropout (default 0). Off by
  // default (eval mode, what from_pretrained gives). Masks come from a
  // generator seeded with init()'s seed (load(): 0) and advanced by every
  // training-mode forward pass; set_dropout_seed() restarts it.
  void set_training(bool training);
  bool training() const;
  void set_dropout_seed(uint64_t seed);

  // ids: batch·seq token ids, row-major [batch, seq]; positions restart at 0
  // in each row (no padding). Returns logits [batch·seq, vocab].
  Var logits(std::span<const int32_t> ids, int64_t batch, int64_t seq);
  // Mean cross-entropy of the next-token logits against `targets` (same
  // layout as ids; -100 is ignored), as transformers' loss when targets are
  // the labels shifted by one. The lm_head product and the loss are fused
  // (the [batch·seq, vocab] logits are never stored whole).
  // 
  Var loss(std::span<const int32_t> ids, std::span<const int32_t> targets, int64_t batch, int64_t seq);

  // Writes config.json and model.safetensors (f32, HF names, tied weights
  // once) into `dir` (created if missing), each atomically.
  void save_pretrained(const std::string& dir) const;

 private:
  struct Impl;
  explicit LanguageModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A small image classifier — an MLP or a CNN — from a JSON config, for
// Fashion-MNIST-sized data (images [C, H, W] as f32 pixels, e.g. scaled to
// [0, 1]). Config fields (anything else is an error):
//   "model_type": "image_classifier"
//   "image": [C, H, W]                      required
//   "num_classes": K                        required
//   "conv": [{"channels": 16, "kernel": 3, "stride": 1, "padding": 1,
//             "pool": 2, "pool_type": "max" | "avg"}, ...]   optional (none: an MLP)
//   "hidden": [128, ...]                    fully connected layers after the convolutions
//   "activation": "relu" | "gelu" | "silu" | "tanh"          default relu
//   "batch_norm": bool                      BatchNorm after each conv and hidden layer (default false)
//   "dropout": p                            after each hidden layer, training only (default 0)
// Layers are conv → [BatchNorm2d] → act → [pool], flatten, then
// linear → [BatchNorm1d] → act → [dropout], then the linear head. Parameters
// are initialised as PyTorch's defaults (U(±1/√fan_in) for weights and
// biases) and named as a torch module would name them: conv.0.weight,
// conv_bn.0.running_mean, fc.0.weight, fc_bn.0.weight, head.weight, ...
class ImageClassifier {
 public:
  static std::unique_ptr<ImageClassifier> init(const nlohmann::json& config, uint64_t seed);
  // A folder written by save(): config.json + model.safetensors.
  static std::unique_ptr<ImageClassifier> load(const std::string& dir);
  ~ImageClassifier();
  ImageClassifier(const ImageClassifier&) = delete;
  ImageClassifier& operator=(const ImageClassifier&) = delete;

  const nlohmann::json& config_json() const;
  int64_t num_classes() const;
  int64_t input_size() const;  // C·H·W floats per image

  std::vector<NamedParam> parameters() const;  // trainable, stable order
  std::vector<NamedParam> buffers() const;     // BatchNorm running statistics: saved, not trained
  std::vector<Var> parameter_vars() const;

  // Training (the default): BatchNorm uses batch statistics and updates its
  // running ones; dropout is on. Eval: running statistics, no dropout.
  void set_training(bool training);
  bool training() const;

  // pixels: batch images of input_size() floats each. Returns [batch, classes].
  Var logits(std::span<const float> pixels, int64_t batch);
  // Mean cross-entropy against labels in [0, classes) (−100 ignored).
  Var loss(std::span<const float> pixels, std::span<const int32_t> labels, int64_t batch);

  // config.json + model.safetensors (parameters and buffers, f32), atomically.
  void save(const std::string& dir) const;

 private:
  struct Impl;
  explicit ImageClassifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A BERT encoder with a sequence-classification head
// (BertForSequenceClassification: pooler tanh(dense(first token)), then
// classifier), parameters under transformers' names ("bert.encoder.layer.0.
// attention.self.query.weight", "bert.pooler.dense.weight",
// "classifier.weight"), so save_pretrained() gives a folder tf::Encoder (and
// tf-run's classification pipelines) load as it is.
class TextClassifier {
 public:
  // A new model from a bert config.json; the number of labels is id2label's
  // size, else "num_labels", else 2. transformers' init (normal(0,
  // initializer_range), pad row zeroed, LayerNorm 1/0).
  static std::unique_ptr<TextClassifier> init(const nlohmann::json& config_json, uint64_t seed);
  // A BERT folder: a classifier checkpoint, or a base / masked-LM one whose
  // pooler and classifier (absent there) are initialised fresh, with
  // `num_labels` labels when given (0: from the config).
  static std::unique_ptr<TextClassifier> load(const std::string& path, int64_t num_labels = 0, uint64_t seed = 0);
  ~TextClassifier();
  TextClassifier(const TextClassifier&) = delete;
  TextClassifier& operator=(const TextClassifier&) = delete;

  const hf::Config& config() const;
  const nlohmann::json& config_json() const;
  int64_t num_labels() const;
  std::vector<NamedParam> parameters() const;
  std::vector<Var> parameter_vars() const;

  // Sequences of any lengths (each ≤ max_position_embeddings, token type 0),
  // padded internally and masked. Returns [sequences, labels].
  Var logits(const std::vector<std::vector<int32_t>>& sequences);
  Var loss(const std::vector<std::vector<int32_t>>& sequences, std::span<const int32_t> labels);

  void save_pretrained(const std::string& dir) const;  // config.json + model.safetensors

 private:
  struct Impl;
  explicit TextClassifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tf::train
