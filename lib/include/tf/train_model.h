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

  // ids: batch·seq token ids, row-major [batch, seq]; positions restart at 0
  // in each row (no padding). Returns logits [batch·seq, vocab].
  Var logits(std::span<const int32_t> ids, int64_t batch, int64_t seq);
  // Mean cross-entropy of the next-token logits against `targets` (same
  // layout as ids; -100 is ignored), as transformers' loss when targets are
  // the labels shifted by one. The lm_head product and the loss are fused
  // (the [batch·seq, vocab] logits are never stored whole).
  Var loss(std::span<const int32_t> ids, std::span<const int32_t> targets, int64_t batch, int64_t seq);

  // Writes config.json and model.safetensors (f32, HF names, tied weights
  // once) into `dir` (created if missing), each atomically.
  void save_pretrained(const std::string& dir) const;

 private:
  struct Impl;
  explicit LanguageModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tf::train
