// Training checkpoints.
//
// A checkpoint is a folder that is, first of all, a Hugging Face model
// folder — config.json, model.safetensors (f32, HF key names, tied weights
// once) and the tokenizer's files — so `tf-run generate -m DIR`,
// `tf-convert hf DIR` and transformers load it as it is. Optionally a GGUF
// beside it (converted by lib/convert's HF → GGUF path, the one tf-convert
// uses). Next to the weights, training_state.zst holds what a resumed run
// needs to continue bit for bit: the step, the run's configuration, the
// optimizer's moments and step counts, and the data loader's position.
//
// training_state.zst layout (little-endian):
//   "TFSTATE1" | u64 payload bytes | u64 compressed bytes | zstd frame (with
//   content checksum) of the payload
//   payload: u64 header bytes | header JSON | f32 buffers
// The header names every buffer with its offset and length in floats; the
// buffers tile the data section exactly. Reading checks every size against
// the real file and fails with a one-line tf::Error on anything else.
//
// Folders and files appear atomically: a checkpoint is written into a hidden
// temporary folder beside its target and renamed into place.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/optim.h"
#include "tf/records.h"
#include "tf/train_model.h"

namespace tf::train {

inline constexpr const char* kTrainingStateFile = "training_state.zst";

// What a resumed run needs besides the weights.
struct TrainingState {
  int64_t step = 0;               // optimizer steps taken
  nlohmann::json config;          // the run's configuration (tf/trainer.h)
  nlohmann::json data;            // data loader position (ShuffledOrder::state)
  OptimizerState optimizer;
  struct ParamShape {
    std::string name;
    Shape shape;
  };
  std::vector<ParamShape> params;  // the model's parameters, checked on resume
  nlohmann::json extra = nlohmann::json::object();  // anything else a trainer keeps (e.g. metrics)
};

void write_training_state(const std::string& path, const TrainingState& state);  // atomic
TrainingState read_training_state(const std::string& path);
// The same from bytes in memory (fuzzers, tests); `name` is used in errors.
TrainingState parse_training_state(std::span<const uint8_t> bytes, const std::string& name);
// Checks that `params` are the parameters the state was saved for (same
// names, order and shapes): a one-line tf::Error naming the first mismatch.
void check_state_params(const TrainingState& state, std::span<const NamedParam> params, const std::string& origin);

// Writes config.json and model.safetensors (f32) into `dir` (created),
// and copies the tokenizer files of `tokenizer_source` (a Hugging Face
// folder or a tokenizer.json; a GGUF's vocabulary is written out as
// Hugging Face files). Returns the `model` record of the folder.
io::ModelInfo write_model_folder(const std::string& dir, const nlohmann::json& config_json,
                                 std::span<const NamedParam> params, const std::string& tokenizer_source);

struct CheckpointOptions {
  std::string tokenizer_source;  // as write_model_folder
  std::string gguf_outtype;      // "" (no GGUF), "f32", "f16" or "bf16"
};

struct SavedCheckpoint {
  std::string dir;
  io::ModelInfo model;                 // the HF folder (sha256 of model.safetensors)
  std::optional<io::ModelInfo> gguf;   // DIR/model-<outtype>.gguf when asked for
};

// The whole checkpoint folder: model, optional GGUF and (when `state` is
// given) training_state.zst, atomically replacing `dir` if it exists.
SavedCheckpoint save_checkpoint(const std::string& dir, const LanguageModel& model, const TrainingState* state,
                                const CheckpointOptions& options);

// The same for any model: `write_model` fills the (temporary) folder it is
// given and returns the folder's `model` record. A GGUF is only possible
// for models lib/convert knows (options.gguf_outtype).
using ModelWriter = std::function<io::ModelInfo(const std::string& dir)>;
SavedCheckpoint save_checkpoint(const std::string& dir, const ModelWriter& write_model, const TrainingState* state,
                                const CheckpointOptions& options);

// The `model` record of a folder holding config.json and model.safetensors:
// sha256 of the weights, bytes of every file, arch from config.json.
io::ModelInfo describe_model_folder(const std::string& dir, uint64_t params);

}  // namespace tf::train
