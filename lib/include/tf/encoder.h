// Encoder-only transformers (bert, roberta, distilbert, electra, albert,
// deberta-v2) from a Hugging Face folder, or a GGUF file as llama.cpp writes
// BERT, and the task heads a checkpoint carries: masked LM, sequence
// classification, token classification, extractive QA.
//
// A batch is a list of sequences of any lengths. They are packed, not
// padded: the projections and the MLP run over all tokens of the batch at
// once, attention runs per sequence over its own keys, so padding costs no
// compute and changes no number (a padded HF batch with an attention mask
// computes the same values for the real tokens).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tf/hf_config.h"
#include "tf/mapped_file.h"

namespace tf {

namespace gguf {
class File;
}
namespace models {
class Weights;
struct EncoderModel;
}  // namespace models

struct EncoderSequence {
  std::vector<int32_t> ids;
  std::vector<int32_t> token_types;  // segment ids; empty: all 0
  std::vector<uint8_t> mask;         // HF attention_mask (0 hides a key); empty: all 1
};

struct EncoderOutput {
  int64_t hidden = 0;
  std::vector<size_t> offsets;       // sequence s is rows offsets[s] .. offsets[s+1]
  std::vector<float> last_hidden;    // [total tokens, hidden]
  std::vector<float> hidden_states;  // [n_layers + 1][total tokens][hidden] when asked for
  size_t n_tokens(size_t seq) const { return offsets[seq + 1] - offsets[seq]; }
  const float* row(size_t seq, size_t token) const { return &last_hidden[(offsets[seq] + token) * size_t(hidden)]; }
};

// Which head the checkpoint's `architectures` (or, failing that, its tensors) name.
enum class EncoderHead { None, MaskedLm, SequenceClassification, TokenClassification, QuestionAnswering };
std::string_view encoder_head_name(EncoderHead h);

// Whether `path` (GGUF file or HF folder) holds one of the encoders above;
// tools use it to route `forward` to the encoder or the causal LM.
bool is_encoder_model(const std::string& path);

class Encoder {
 public:
  static std::unique_ptr<Encoder> load(const std::string& path, LoadMode mode = kDefaultModelLoadMode);
  ~Encoder();

  const hf::Config& config() const;
  const std::string& path() const;
  const gguf::File* gguf() const;  // for the tokenizer; nullptr for HF folders
  std::string arch_name() const;
  int64_t hidden_size() const;
  int64_t n_layers() const;
  int64_t max_tokens() const;  // longest sequence the position table allows (0: no limit)
  uint64_t parameter_count() const;
  uint64_t weight_bytes() const;  // of the weights as stored
  EncoderHead head() const;
  // Pooling a sentence-embedding model asks for (GGUF bert.pooling_type):
  // "mean", "cls" or "" when the file does not say.
  std::string default_pooling() const;

  EncoderOutput forward(const std::vector<EncoderSequence>& batch, bool hidden_states = false) const;

  // Heads, on rows of last_hidden (hidden floats each). tf::Error when the
  // checkpoint has no such head.
  int64_t mlm_vocab() const;
  void mlm_logits(const float* hidden, size_t rows, float* logits) const;  // [rows, mlm_vocab]
  int64_t num_labels() const;  // outputs of the classification head (sequence or token)
  // One sequence's logits [num_labels] from its rows (the head pools the first token).
  void sequence_logits(const float* seq_rows, size_t n_rows, float* logits) const;
  void token_logits(const float* hidden, size_t rows, float* logits) const;  // [rows, num_labels]
  void qa_logits(const float* hidden, size_t rows, float* start, float* end) const;  // [rows] each

  const models::EncoderModel& impl() const { return *impl_; }

 private:
  Encoder() = default;
  std::unique_ptr<models::Weights> weights_;
  std::unique_ptr<models::EncoderModel> impl_;
};

}  // namespace tf
