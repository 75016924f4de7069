// The training driver behind `tf-run train` (docs/tf-run.md#train): a
// language model (new from a config.json, or loaded from a Hugging Face
// folder or GGUF) trained on a text file, with evaluation that follows
// `tf-run perplexity`'s rules, periodic and final checkpoints
// (tf/checkpoint.h) and exact resumption.
//
// Progress is reported as JSON records through a callback (the tool prints
// them on stdout):
//   {"type":"data","train_tokens":…,"valid_tokens":…,"valid_offset":…,…}
//   {"type":"train","step":…,"loss":…,"lr":…,"grad_norm":…,"tok_per_s":…,"tokens":…,"epoch":…}
//   {"type":"eval","step":…,"loss":…,"ppl":…,"n_tokens":…,"n_windows":…}
//   {"type":"checkpoint","step":…,"path":…,"bytes":…,"sha256":…,"final":…}
// and a `model` record for the final folder (and GGUF), so that
// `tf-run train … | tf-run generate -m - …` works.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tf::train {

struct TrainConfig {
  // "lm": causal language modelling of a text file; "classify-image": an
  // image classifier (tf::train::ImageClassifier) on IDX files;
  // "classify-text": a BERT sequence classifier (tf::train::TextClassifier)
  // on JSONL {"text", "label"} lines (seq caps the tokens per example).
  std::string task = "lm";

  // The model: exactly one of model_config (a config.json, or a folder with
  // one: a new model initialised from `seed`), init_from (an HF folder or
  // GGUF whose weights are fine-tuned) and resume (a checkpoint folder).
  std::string model_config, init_from, resume;
  // Tokenizer (HF folder, tokenizer.json or GGUF); default: the model's
  // folder (init_from, resume, or the folder holding model_config).
  std::string tokenizer;

  std::string data;             // lm: UTF-8 text; classify-image: IDX images (.gz allowed); classify-text: JSONL
  std::string labels;           // classify-image: IDX labels of `data`
  // classify-*: a separate valid set (JSONL; or IDX images + labels), else
  // the last valid_fraction of the examples
  std::string valid_data, valid_labels;
  double valid_fraction = 0.1;  // lm: the last part of the text (by characters)

  std::string optimizer = "adamw";  // adamw | adam | sgd
  float lr = 1e-3f;
  float min_lr = 0.0f;
  float weight_decay = 0.1f;  // adamw: decoupled; adam, sgd: L2. Never on ndim < 2 parameters
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  float momentum = 0.0f;           // sgd
  int64_t warmup = 0;              // steps of linear warm-up
  std::string schedule = "cosine"; // constant | linear | cosine (to min_lr at `steps`)
  double clip = 1.0;               // global gradient-norm clip (0: off)
  int64_t grad_accum = 1;          // micro-batches per optimizer step

  int64_t steps = 100;  // optimizer steps in total
  int64_t batch = 8;    // sequences per micro-batch
  int64_t seq = 128;    // tokens per sequence (and the evaluation context)

  int64_t eval_every = 0;    // steps between evaluations (0: only at the end)
  int64_t eval_batches = 0;  // batches per evaluation (0: the whole valid split, as tf-run perplexity)
  int64_t save_every = 0;    // steps between checkpoints (0: only the final one)
  std::string out = "train-out";
  std::string save_gguf;     // also write a GGUF with each checkpoint: f32 | f16 | bf16
  uint64_t seed = 0;         // initialisation and data order
  int threads = 0;           // 0: all cores
  int64_t log_every = 1;     // steps between train records

  // Strict: an unknown key, a wrong type or an invalid value is a one-line
  // tf::Error naming the key.
  static TrainConfig from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
  void validate() const;
};

// The configuration of a run from what the user gave (a config file's JSON
// with command-line flags merged over it). With "resume", the checkpoint's
// saved configuration is the base; only steps, out, eval_every,
// eval_batches, save_every, save_gguf, threads and log_every may change, and
// giving another value for anything else is an error (it would break the
// exact continuation).
TrainConfig resolve_train_config(const nlohmann::json& given);

struct TrainSummary {
  int64_t steps = 0;
  double last_loss = 0;
  std::optional<double> last_eval_loss;
  std::string final_dir;
};

using RecordSink = std::function<void(const nlohmann::json& record)>;

// Runs the training described by `config`, reporting through `emit`. A
// progress line goes to stderr when it is a terminal.
TrainSummary run_training(const TrainConfig& config, const RecordSink& emit);

}  // namespace tf::train
