// What the training loop (trainer.cpp) needs from a task — causal language
// modelling (trainer_lm.cpp), image classification (trainer_image.cpp), text
// classification (trainer_text.cpp) —
// so that the loop, its records, checkpoints and resumption are written once.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/checkpoint.h"
#include "tf/train_data.h"
#include "tf/trainer.h"

namespace tf::train::detail {

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  // Trainable parameters, in a stable order (checkpoints check it).
  virtual std::vector<NamedParam> parameters() const = 0;
  // The training data's position (saved with checkpoints).
  virtual ShuffledOrder& order() = 0;
  // The `data` record: sizes of the train and valid sets.
  virtual nlohmann::json data_record() const = 0;
  // Mean loss of the next micro-batch of `batch` examples, recorded on the
  // active tape; `units` gets what it processed (tokens, images).
  virtual Var next_loss(int64_t batch, int64_t& units) = 0;
  virtual const char* rate_key() const = 0;   // "tok_per_s", "samples_per_s"
  virtual const char* units_key() const = 0;  // "tokens", "samples"
  // Fields of an `eval` record ("loss" among them), or nullopt without valid data.
  virtual std::optional<nlohmann::json> evaluate(int64_t batch, int64_t max_batches) = 0;
  virtual SavedCheckpoint save(const std::string& dir, const TrainingState& state) = 0;
};

std::unique_ptr<TrainTask> make_lm_task(const TrainConfig& config);
std::unique_ptr<TrainTask> make_image_task(const TrainConfig& config);
std::unique_ptr<TrainTask> make_text_task(const TrainConfig& config);

}  // namespace tf::train::detail
