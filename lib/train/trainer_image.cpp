// tf-run train's "classify-image" task: an image classifier (MLP or CNN,
// tf/train_model.h) on IDX image files such as Fashion-MNIST (tf/trainer.h).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "tf/error.h"
#include "tf/json_file.h"
#include "tf/train_model.h"
#include "train/trainer_task.h"

namespace fs = std::filesystem;

namespace tf::train::detail {

namespace {

class ImageTask : public TrainTask {
 public:
  explicit ImageTask(const TrainConfig& c) : config_(c) {
    if (!c.resume.empty())
      model_ = ImageClassifier::load(c.resume);
    else if (!c.init_from.empty())
      model_ = ImageClassifier::load(c.init_from);
    else
      model_ = ImageClassifier::init(
          read_json_file(fs::is_directory(c.model_config) ? (fs::path(c.model_config) / "config.json").string()
                                                          : c.model_config),
          c.seed);
    train_set_ = load_idx_images(c.data, c.labels);
    check(train_set_, c.data);
    if (!c.valid_data.empty()) {
      valid_set_ = load_idx_images(c.valid_data, c.valid_labels);
      check(valid_set_, c.valid_data);
      train_index_.resize(size_t(train_set_.count));
      std::iota(train_index_.begin(), train_index_.end(), size_t(0));
      valid_index_.resize(size_t(valid_set_.count));
      std::iota(valid_index_.begin(), valid_index_.end(), size_t(0));
      valid_ = &valid_set_;
    } else {
      // the last valid_fraction of the examples is held out
      const size_t n = size_t(train_set_.count);
      const size_t n_valid = size_t(std::floor(double(n) * c.valid_fraction));
      train_index_.resize(n - n_valid);
      std::iota(train_index_.begin(), train_index_.end(), size_t(0));
      valid_index_.resize(n_valid);
      std::iota(valid_index_.begin(), valid_index_.end(), n - n_valid);
      valid_ = &train_set_;
    }
    if (train_index_.empty()) fail(c.data, ": no training images left after the valid split");
    order_ = std::make_unique<ShuffledOrder>(train_index_.size(), c.seed);
  }

  std::vector<NamedParam> parameters() const override { return model_->parameters(); }
  ShuffledOrder& order() override { return *order_; }
  const char* rate_key() const override { return "samples_per_s"; }
  const char* units_key() const override { return "samples"; }

  nlohmann::json data_record() const override {
    return {{"type", "data"},
            {"path", config_.data},
            {"labels", config_.labels},
            {"train_samples", train_index_.size()},
            {"valid_samples", valid_index_.size()},
            {"image", {train_set_.rows, train_set_.cols}},
            {"num_classes", model_->num_classes()}};
  }

  Var next_loss(int64_t batch, int64_t& units) override {
    std::vector<size_t> idx = order_->next(size_t(batch));
    for (size_t& i : idx) i = train_index_[i];
    std::vector<int32_t> labels;
    for (size_t i : idx) labels.push_back(train_set_.labels[i]);
    model_->set_training(true);
    units = batch;
    return model_->loss(train_set_.batch_pixels(idx), labels, batch);
  }

  // Mean cross-entropy (in double, from the logits) and accuracy, in eval mode.
  std::optional<nlohmann::json> evaluate(int64_t batch, int64_t max_batches) override {
    if (valid_index_.empty()) return std::nullopt;
    NoGrad no_grad;
    model_->set_training(false);
    double nll = 0;
    int64_t n = 0, correct = 0, batches = 0;
    const int64_t classes = model_->num_classes();
    for (size_t first = 0; first < valid_index_.size(); first += size_t(batch)) {
      if (max_batches > 0 && batches == max_batches) break;
      const size_t count = std::min(size_t(batch), valid_index_.size() - first);
      const std::span<const size_t> idx(valid_index_.data() + first, count);
      const Var logits = model_->logits(valid_->batch_pixels(idx), int64_t(count));
      for (size_t r = 0; r < count; ++r) {
        const float* l = logits.data() + r * size_t(classes);
        const int32_t label = valid_->labels[idx[r]];
        const float* best = std::max_element(l, l + classes);
        double sum = 0;
        for (int64_t k = 0; k < classes; ++k) sum += std::exp(double(l[k]) - double(*best));
        nll += double(*best) + std::log(sum) - double(l[label]);
        correct += (best - l) == label;
      }
      n += int64_t(count);
      ++batches;
    }
    model_->set_training(true);
    return nlohmann::json{
        {"loss", nll / double(n)}, {"accuracy", double(correct) / double(n)}, {"n_samples", n}};
  }

  SavedCheckpoint save(const std::string& dir, const TrainingState& state) override {
    uint64_t params = 0;
    for (const NamedParam& p : model_->parameters()) params += uint64_t(p.var.numel());
    return save_checkpoint(
        dir,
        [&](const std::string& folder) {
          model_->save(folder);
          return describe_model_folder(folder, params);
        },
        &state, CheckpointOptions{});
  }

 private:
  void check(const ImageClassificationData& d, const std::string& path) const {
    if (d.rows * d.cols != model_->input_size())
      fail(path, ": images of ", d.rows, "x", d.cols, " pixels, the model takes ", model_->input_size(), " inputs");
    if (d.num_classes > model_->num_classes())
      fail(path, ": label ", d.num_classes - 1, " is beyond the model's ", model_->num_classes(), " classes");
  }

  TrainConfig config_;
  std::unique_ptr<ImageClassifier> model_;
  ImageClassificationData train_set_, valid_set_;
  const ImageClassificationData* valid_ = nullptr;
  std::vector<size_t> train_index_, valid_index_;
  std::unique_ptr<ShuffledOrder> order_;
};

}  // namespace

std::unique_ptr<TrainTask> make_image_task(const TrainConfig& config) { return std::make_unique<ImageTask>(config); }

}  // namespace tf::train::detail
