// tf-run train's "classify-text" task: a BERT sequence classifier
// (tf::train::TextClassifier) fine-tuned or trained on JSONL examples
// (tf/trainer.h). The checkpoint is a BertForSequenceClassification folder
// with the data's label names as id2label, which `tf-run classify` runs.
#include <algorithm>
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

nlohmann::json read_config(const std::string& path) {
  return read_json_file(fs::is_directory(path) ? (fs::path(path) / "config.json").string() : path);
}

// A config's id2label names in id order, or nothing when it has none or only
// transformers' placeholders (LABEL_0, LABEL_1, …), which name no real classes.
std::vector<std::string> real_label_names(const nlohmann::json& config) {
  if (!config.contains("id2label") || !config["id2label"].is_object()) return {};
  const nlohmann::json& m = config["id2label"];
  std::vector<std::string> names(m.size());
  bool placeholders = true;
  for (auto it = m.begin(); it != m.end(); ++it) {
    size_t id = 0;
    try {
      id = std::stoul(it.key());
    } catch (const std::exception&) {
      fail("id2label key '", it.key(), "' is not an integer");
    }
    if (id >= names.size() || !it.value().is_string()) fail("id2label is not a map of ids 0..", names.size() - 1, " to names");
    names[id] = it.value().get<std::string>();
    placeholders = placeholders && names[id] == "LABEL_" + std::to_string(id);
  }
  return placeholders ? std::vector<std::string>{} : names;
}

void set_label_names(nlohmann::json& config, const std::vector<std::string>& names) {
  nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
  for (size_t i = 0; i < names.size(); ++i) {
    id2label[std::to_string(i)] = names[i];
    label2id[names[i]] = i;
  }
  config["id2label"] = id2label;
  config["label2id"] = label2id;
}

class TextTask : public TrainTask {
 public:
  explicit TextTask(const TrainConfig& c) : config_(c) {
    const std::string source = !c.resume.empty() ? c.resume : !c.init_from.empty() ? c.init_from : c.model_config;
    const nlohmann::json source_config = read_config(source);
    tokenizer_path_ = !c.tokenizer.empty() ? c.tokenizer
                      : fs::is_directory(source) ? source
                      : fs::path(source).parent_path().empty() ? "." : fs::path(source).parent_path().string();

    // The label map: a resumed run's own; else a source model's real names
    // (the data must use them); else the train data's.
    std::vector<std::string> fixed = real_label_names(source_config);
    if (!c.resume.empty() && fixed.empty()) {
      const nlohmann::json& m = source_config.at("id2label");
      for (size_t i = 0; i < m.size(); ++i) fixed.push_back(m.at(std::to_string(i)).get<std::string>());
    }
    TextClassificationData train = load_text_classification(c.data, fixed);
    labels_ = train.labels;
    TextClassificationData valid;
    if (!c.valid_data.empty()) {
      valid = load_text_classification(c.valid_data, labels_);
    } else {
      const size_t n_valid = size_t(std::floor(double(train.examples.size()) * c.valid_fraction));
      valid.examples.assign(train.examples.end() - long(n_valid), train.examples.end());
      train.examples.resize(train.examples.size() - n_valid);
    }
    if (train.examples.empty()) fail(c.data, ": no training examples left after the valid split");

    if (!c.resume.empty()) {
      model_ = TextClassifier::load(c.resume);
    } else if (!c.init_from.empty()) {
      model_ = TextClassifier::load(c.init_from, int64_t(labels_.size()), c.seed);
    } else {
      nlohmann::json config = source_config;
      set_label_names(config, labels_);
      model_ = TextClassifier::init(config, c.seed);
    }
    if (model_->num_labels() != int64_t(labels_.size()))
      fail(source, ": the model has ", model_->num_labels(), " labels, the data ", labels_.size());
    save_config_ = model_->config_json();
    set_label_names(save_config_, labels_);

    const Tokenizer tokenizer = Tokenizer::load(tokenizer_path_);
    if (int64_t(tokenizer.vocab_size()) > model_->config().vocab_size)
      fail(tokenizer_path_, ": the tokenizer has ", tokenizer.vocab_size(), " tokens, the model's vocabulary only ",
           model_->config().vocab_size);
    const int64_t max_len = std::min<int64_t>(c.seq, model_->config().max_position_embeddings);
    encode(tokenizer, train, max_len, train_ids_, train_labels_);
    encode(tokenizer, valid, max_len, valid_ids_, valid_labels_);
    order_ = std::make_unique<ShuffledOrder>(train_ids_.size(), c.seed);
  }

  std::vector<NamedParam> parameters() const override { return model_->parameters(); }
  ShuffledOrder& order() override { return *order_; }
  const char* rate_key() const override { return "samples_per_s"; }
  const char* units_key() const override { return "samples"; }

  nlohmann::json data_record() const override {
    return {{"type", "data"},           {"path", config_.data},         {"train_samples", train_ids_.size()},
            {"valid_samples", valid_ids_.size()}, {"labels", labels_}, {"truncated", truncated_}};
  }

  Var next_loss(int64_t batch, int64_t& units) override {
    std::vector<std::vector<int32_t>> seqs;
    std::vector<int32_t> labels;
    for (size_t i : order_->next(size_t(batch))) {
      seqs.push_back(train_ids_[i]);
      labels.push_back(train_labels_[i]);
    }
    units = batch;
    return model_->loss(seqs, labels);
  }

  std::optional<nlohmann::json> evaluate(int64_t batch, int64_t max_batches) override {
    if (valid_ids_.empty()) return std::nullopt;
    NoGrad no_grad;
    const int64_t classes = model_->num_labels();
    double nll = 0;
    int64_t n = 0, correct = 0, batches = 0;
    for (size_t first = 0; first < valid_ids_.size(); first += size_t(batch)) {
      if (max_batches > 0 && batches == max_batches) break;
      const size_t count = std::min(size_t(batch), valid_ids_.size() - first);
      const std::vector<std::vector<int32_t>> seqs(valid_ids_.begin() + long(first),
                                                   valid_ids_.begin() + long(first + count));
      const Var logits = model_->logits(seqs);
      for (size_t r = 0; r < count; ++r) {
        const float* l = logits.data() + r * size_t(classes);
        const int32_t label = valid_labels_[first + r];
        const float* best = std::max_element(l, l + classes);
        double sum = 0;
        for (int64_t k = 0; k < classes; ++k) sum += std::exp(double(l[k]) - double(*best));
        nll += double(*best) + std::log(sum) - double(l[label]);
        correct += (best - l) == label;
      }
      n += int64_t(count);
      ++batches;
    }
    return nlohmann::json{{"loss", nll / double(n)}, {"accuracy", double(correct) / double(n)}, {"n_samples", n}};
  }

  SavedCheckpoint save(const std::string& dir, const TrainingState& state) override {
    const std::vector<NamedParam> params = model_->parameters();
    return save_checkpoint(
        dir,
        [&](const std::string& folder) { return write_model_folder(folder, save_config_, params, tokenizer_path_); },
        &state, CheckpointOptions{});
  }

 private:
  // [CLS] text [SEP], cut to max_len keeping the closing special token (as
  // tf-run classify truncates).
  void encode(const Tokenizer& tokenizer, const TextClassificationData& d, int64_t max_len,
              std::vector<std::vector<int32_t>>& ids, std::vector<int32_t>& labels) {
    for (const TextExample& e : d.examples) {
      if (!e.text_pair.empty())
        fail(config_.data, ": text_pair examples need token type ids, which the text classifier does not take yet");
      std::vector<int32_t> t = tokenizer.encode(e.text, EncodeOptions{true, false});
      if (int64_t(t.size()) > max_len) {
        const int32_t last = t.back();
        t.resize(size_t(max_len));
        t.back() = last;
        ++truncated_;
      }
      ids.push_back(std::move(t));
      labels.push_back(e.label);
    }
  }

  TrainConfig config_;
  std::string tokenizer_path_;
  std::vector<std::string> labels_;
  nlohmann::json save_config_;
  std::unique_ptr<TextClassifier> model_;
  std::vector<std::vector<int32_t>> train_ids_, valid_ids_;
  std::vector<int32_t> train_labels_, valid_labels_;
  int64_t truncated_ = 0;
  std::unique_ptr<ShuffledOrder> order_;
};

}  // namespace

std::unique_ptr<TrainTask> make_text_task(const TrainConfig& config) { return std::make_unique<TextTask>(config); }

}  // namespace tf::train::detail
