// tf-run train's "lm" task: a causal language model on packed text windows,
// evaluated with tf-run perplexity's windows (tf/trainer.h).
#include <cmath>
#include <filesystem>

#include "tf/error.h"
#include "tf/json_file.h"
#include "tf/tokenizer.h"
#include "tf/train_model.h"
#include "train/trainer_task.h"

namespace fs = std::filesystem;

namespace tf::train::detail {

namespace {

// The folder a model config names: the folder itself, or the file's folder.
std::string config_folder(const std::string& path) {
  if (fs::is_directory(path)) return path;
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

nlohmann::json read_model_config(const std::string& path) {
  return read_json_file(fs::is_directory(path) ? (fs::path(path) / "config.json").string() : path);
}

class LmTask : public TrainTask {
 public:
  explicit LmTask(const TrainConfig& c) : config_(c) {
    tokenizer_path_ = c.tokenizer;
    if (!c.resume.empty()) {
      model_ = LanguageModel::load(c.resume);
      if (tokenizer_path_.empty()) tokenizer_path_ = c.resume;
    } else if (!c.init_from.empty()) {
      model_ = LanguageModel::load(c.init_from);
      if (tokenizer_path_.empty()) tokenizer_path_ = c.init_from;
    } else {
      model_ = LanguageModel::init(read_model_config(c.model_config), c.seed);
      if (tokenizer_path_.empty()) tokenizer_path_ = config_folder(c.model_config);
    }
    const Tokenizer tokenizer = Tokenizer::load(tokenizer_path_);
    if (int64_t(tokenizer.vocab_size()) > model_->config().vocab_size)
      fail(tokenizer_path_, ": the tokenizer has ", tokenizer.vocab_size(), " tokens, the model's vocabulary only ",
           model_->config().vocab_size);
    TokenizedText text = tokenize_text_file(c.data, tokenizer, c.valid_fraction);
    const TokenId bos = window_bos(tokenizer);
    data_ = {{"type", "data"},
             {"path", c.data},
             {"text_bytes", text.text_bytes},
             {"valid_offset", text.valid_offset},
             {"train_tokens", text.train.size()},
             {"valid_tokens", text.valid.size()},
             {"bos", bos >= 0}};
    eval_ = std::make_unique<EvalWindows>(text.valid, c.seq, bos);
    train_ = std::make_unique<TokenWindows>(std::move(text.train), c.seq, bos, c.seed);
    data_["train_windows"] = train_->size();
    data_["valid_windows"] = eval_->size();
  }

  std::vector<NamedParam> parameters() const override { return model_->parameters(); }
  ShuffledOrder& order() override { return train_->order(); }
  nlohmann::json data_record() const override { return data_; }
  const char* rate_key() const override { return "tok_per_s"; }
  const char* units_key() const override { return "tokens"; }

  Var next_loss(int64_t batch, int64_t& units) override {
    const TokenBatch b = train_->next(batch);
    units = b.batch * b.seq;
    return model_->loss(b.ids, b.targets, b.batch, b.seq);
  }

  // Mean next-token NLL over the windows, summed as tf-run perplexity sums
  // it: every scored token weighs the same, whatever window it is in.
  std::optional<nlohmann::json> evaluate(int64_t batch, int64_t max_batches) override {
    if (eval_->size() == 0) return std::nullopt;
    NoGrad no_grad;
    double nll = 0;
    int64_t n_tokens = 0, n_windows = 0, batches = 0;
    for (size_t first = 0; first < eval_->size(); first += size_t(batch)) {
      if (max_batches > 0 && batches == max_batches) break;
      const TokenBatch b = eval_->batch(first, size_t(batch));
      const int64_t n = b.n_targets();
      nll += double(model_->loss(b.ids, b.targets, b.batch, b.seq).item()) * double(n);
      n_tokens += n;
      n_windows += b.batch;
      ++batches;
    }
    const double loss = n_tokens > 0 ? nll / double(n_tokens) : 0.0;
    return nlohmann::json{{"loss", loss}, {"ppl", std::exp(loss)}, {"n_tokens", n_tokens}, {"n_windows", n_windows}};
  }

  SavedCheckpoint save(const std::string& dir, const TrainingState& state) override {
    CheckpointOptions options;
    options.tokenizer_source = tokenizer_path_;
    options.gguf_outtype = config_.save_gguf;
    return save_checkpoint(dir, *model_, &state, options);
  }

 private:
  TrainConfig config_;
  std::string tokenizer_path_;
  std::unique_ptr<LanguageModel> model_;
  std::unique_ptr<TokenWindows> train_;
  std::unique_ptr<EvalWindows> eval_;
  nlohmann::json data_;
};

}  // namespace

std::unique_ptr<TrainTask> make_lm_task(const TrainConfig& config) { return std::make_unique<LmTask>(config); }

}  // namespace tf::train::detail
