// train: the training driver (docs/tf-run.md#train); the work is
// tf::train::run_training.
#include <memory>

#include "tf-run/commands.h"
#include "tf/json_file.h"
#include "tf/records.h"
#include "tf/trainer.h"

namespace tf::run {

void add_train(CLI::App& app) {
  struct Options {
    std::string config;
    nlohmann::json flags = nlohmann::json::object();  // only the flags given, merged over --config
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "train", "train a language model on a text file (or an image classifier): streams train / eval / checkpoint records");
  cmd->add_option("--config", o->config, "train.json: any of the keys below (flags given here win)");
  // Each flag sets the train.json key of the same name (dashes → underscores).
  auto text = [&](const std::string& names, const char* key, const std::string& help) {
    cmd->add_option_function<std::string>(names, [o, key](const std::string& v) { o->flags[key] = v; }, help);
  };
  auto number = [&](const std::string& names, const char* key, const std::string& help) {
    cmd->add_option_function<double>(names, [o, key](double v) { o->flags[key] = v; }, help);
  };
  auto integer = [&](const std::string& names, const char* key, const std::string& help) {
    cmd->add_option_function<int64_t>(names, [o, key](int64_t v) { o->flags[key] = v; }, help);
  };
  text("--task", "task", "lm (a text file) | classify-image (IDX files) | classify-text (JSONL) (lm)");
  text("--model-config", "model_config", "config.json (or its folder) of a new, randomly initialised model");
  text("--init-from", "init_from", "Hugging Face folder or GGUF whose weights to fine-tune");
  text("--resume", "resume", "checkpoint folder to continue from (exactly where it stopped)");
  text("--tokenizer", "tokenizer", "tokenizer (HF folder, tokenizer.json, GGUF); default: the model's folder");
  text("-f,--data", "data", "training text (UTF-8); classify-image: IDX images (.gz allowed); classify-text: JSONL");
  text("--labels", "labels", "classify-image: IDX labels of --data");
  text("--valid-data", "valid_data", "classify-*: separate valid set (default: the last --valid-fraction)");
  text("--valid-labels", "valid_labels", "classify-image: IDX labels of --valid-data");
  number("--valid-fraction", "valid_fraction", "last fraction of the text (or images) held out for evaluation (0.1)");
  text("--optimizer", "optimizer", "adamw | adam | sgd (adamw)");
  number("--lr", "lr", "peak learning rate (1e-3)");
  number("--min-lr", "min_lr", "learning rate at the end of the decay (0)");
  number("--weight-decay", "weight_decay", "weight decay, never on biases and norms (0.1)");
  number("--beta1", "beta1", "Adam beta1 (0.9)");
  number("--beta2", "beta2", "Adam beta2 (0.95)");
  number("--eps", "eps", "Adam epsilon (1e-8)");
  number("--momentum", "momentum", "SGD momentum (0)");
  integer("--warmup", "warmup", "linear warm-up steps (0)");
  text("--schedule", "schedule", "constant | linear | cosine decay after warm-up (cosine)");
  number("--clip", "clip", "gradient-norm clip, 0 = off (1)");
  integer("--grad-accum", "grad_accum", "micro-batches per optimizer step (1)");
  integer("--steps", "steps", "optimizer steps (100)");
  integer("-b,--batch", "batch", "sequences per micro-batch (8)");
  integer("-c,--seq", "seq", "tokens per sequence, also the evaluation context (128)");
  integer("--eval-every", "eval_every", "steps between evaluations, 0 = only at the end (0)");
  integer("--eval-batches", "eval_batches", "batches per evaluation, 0 = the whole valid split (0)");
  integer("--save-every", "save_every", "steps between checkpoints, 0 = only the final one (0)");
  text("-o,--out", "out", "output folder (train-out)");
  text("--save-gguf", "save_gguf", "also write a GGUF with each checkpoint: f32 | f16 | bf16");
  integer("--seed", "seed", "initialisation and data-order seed (0)");
  integer("-t,--threads", "threads", "threads, 0 = all cores (0)");
  integer("--log-every", "log_every", "steps between train records (1)");
  cmd->callback([o] {
    nlohmann::json given = o->config.empty() ? nlohmann::json::object() : read_json_file(o->config);
    for (auto it = o->flags.begin(); it != o->flags.end(); ++it) given[it.key()] = it.value();
    const train::TrainConfig config = train::resolve_train_config(given);
    train::run_training(config, [](const nlohmann::json& r) { io::emit(r); });
  });
}

}  // namespace tf::run
